"""Source data verification: a monitor marks a record of any registered form verified; a later
change clears the mark."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import CharField, OuterRef, Subquery
from django.db.models.functions import Cast

from monitoring.models import SourceVerification
from monitoring.overview import record_url
from trialsite.audit import context as audit
from trialsite.crf import registry
from trialsite.crf.models import CrfStatus


def verify_record(*, definition, record, by) -> SourceVerification:
    """Mark `record` of the registered form `definition`, as it is now, source-verified."""
    if not by.has_perm("accounts.verify_source_data"):
        raise PermissionDenied("Only monitors can mark data source-verified.")
    with transaction.atomic(), audit.acting(by=by):
        return SourceVerification.objects.create(
            table_name=definition.table,
            row_pk=str(record.pk),
            participant=definition.participant_of(record),
            version=record.version,
            verified_by=by,
        )


def verify_crf(*, crf, by) -> SourceVerification:
    """Mark a record source-verified (its form found by its model)."""
    return verify_record(definition=registry.for_model(crf), record=crf, by=by)


def last_verification(record) -> SourceVerification | None:
    return SourceVerification.objects.filter(
        table_name=record._meta.db_table, row_pk=str(record.pk)
    ).first()


@dataclass(frozen=True)
class ToReverify:
    definition: registry.FormDef
    record: object
    url: str | None
    verified_version: int

    @property
    def participant(self):
        return self.definition.participant_of(self.record)

    @property
    def where(self) -> str:
        """The visit of a per-visit record, the entry number of a log record."""
        if hasattr(self.record, "visit"):
            return self.record.visit.code
        if hasattr(self.record, "number"):
            return f"No. {self.record.number}"
        return ""


def to_reverify(user) -> list[ToReverify]:
    """Records at the user's sites changed since they were verified (one query per form)."""
    return [r for r in backlog(user) if r.verified_version is not None]


def backlog(user) -> list[ToReverify]:
    """Complete records at the user's sites not verified at their current version: never
    verified (verified_version None), or changed since (one query per form)."""
    found = []
    for definition in registry.visible_forms(user):
        if not hasattr(definition.model, "version"):
            continue
        latest = SourceVerification.objects.filter(
            table_name=definition.table,
            row_pk=Cast(OuterRef("pk"), output_field=CharField()),
        ).order_by("-verified_at")
        rows = definition.records_visible_to(user).annotate(
            verified_version=Subquery(latest.values("version")[:1])
        )
        if hasattr(definition.model, "status"):
            rows = rows.filter(status=CrfStatus.COMPLETE)
        found += [
            ToReverify(definition, record, record_url(definition, record), record.verified_version)
            for record in rows
            if record.version != record.verified_version
        ]
    return found
