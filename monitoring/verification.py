"""Source data verification: a monitor marks a record of any registered form verified; a later
change clears the mark."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, QuerySet, Subquery
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


def verifiable_forms(user) -> list[registry.FormDef]:
    """The registered forms the user may see whose records carry a version."""
    return [d for d in registry.visible_forms(user) if hasattr(d.model, "version")]


def _verifications(definition) -> QuerySet:
    """The verifications of the record of `definition` in the outer query."""
    return SourceVerification.objects.filter(
        table_name=definition.table, row_pk=Cast(OuterRef("pk"), output_field=CharField())
    )


def unverified(definition, user) -> QuerySet:
    """Complete records of `definition` at the user's sites not verified at their current
    version, annotated with `verified_version`, the last version verified (None: never),
    filtered in the database, oldest first."""
    verifications = _verifications(definition)
    rows = (
        definition.records_visible_to(user)
        .exclude(Exists(verifications.filter(version=OuterRef("version"))))
        .annotate(
            verified_version=Subquery(verifications.order_by("-verified_at").values("version")[:1])
        )
        .order_by("pk")
    )
    if hasattr(definition.model, "status"):
        rows = rows.filter(status=CrfStatus.COMPLETE)
    return rows


def to_reverify(definition, user) -> QuerySet:
    """Records of `definition` at the user's sites changed since they were verified."""
    return unverified(definition, user).filter(Exists(_verifications(definition)))


def as_rows(definition, records) -> list[ToReverify]:
    return [
        ToReverify(definition, r, record_url(definition, r), r.verified_version) for r in records
    ]


# The backlog is counted up to this many records; beyond, it is "at least" this many (a site's
# whole backlog, thousands of records, took tens of milliseconds to count on every home page).
BACKLOG_COUNTED = 1000


def backlog(user, limit: int) -> tuple[list[ToReverify], int, bool]:
    """The first `limit` records at the user's sites not verified at their current version
    (never verified, or changed since), form by form, how many there are in all, counted up
    to BACKLOG_COUNTED, and whether there are more than that: a query per form until `limit`
    are found, and one to count them."""
    found, counts = [], []
    for definition in verifiable_forms(user):
        rows = unverified(definition, user)
        if len(found) < limit:
            found += as_rows(definition, list(rows[: limit - len(found)]))
        counts.append(rows.order_by().values("pk"))
    if not counts:
        return found, 0, False
    counted = counts[0].union(*counts[1:], all=True)[: BACKLOG_COUNTED + 1].count()
    return found, min(counted, BACKLOG_COUNTED), counted > BACKLOG_COUNTED
