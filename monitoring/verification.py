"""Source data verification: a monitor marks a CRF verified; a later change clears the mark."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import CharField, OuterRef, Subquery
from django.db.models.functions import Cast

from monitoring.models import SourceVerification
from trialsite.audit import context as audit
from trialsite.crfs import CRF_PAGES


def verify_crf(*, crf, by) -> SourceVerification:
    """Mark `crf`, as it is now, source-verified by `by`."""
    if not by.has_perm("accounts.verify_source_data"):
        raise PermissionDenied("Only monitors can mark data source-verified.")
    with transaction.atomic(), audit.acting(by=by):
        return SourceVerification.objects.create(
            table_name=crf._meta.db_table,
            row_pk=str(crf.pk),
            participant_id=crf.participant_id,
            version=crf.version,
            verified_by=by,
        )


def last_verification(crf) -> SourceVerification | None:
    return SourceVerification.objects.filter(
        table_name=crf._meta.db_table, row_pk=str(crf.pk)
    ).first()


@dataclass(frozen=True)
class ToReverify:
    crf: object
    url_name: str
    verified_version: int


def to_reverify(user) -> list[ToReverify]:
    """CRFs at the user's sites changed since they were verified (one query per CRF type)."""
    found = []
    for model, url_name in CRF_PAGES.values():
        latest = SourceVerification.objects.filter(
            table_name=model._meta.db_table,
            row_pk=Cast(OuterRef("pk"), output_field=CharField()),
        ).order_by("-verified_at")
        rows = (
            model.objects.filter(participant__site_id__in=user.site_ids)
            .annotate(verified_version=Subquery(latest.values("version")[:1]))
            .filter(verified_version__isnull=False)
            .select_related("participant", "visit")
        )
        found += [
            ToReverify(crf, url_name, crf.verified_version)
            for crf in rows
            if crf.version != crf.verified_version
        ]
    return found
