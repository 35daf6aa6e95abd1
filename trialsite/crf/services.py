"""How every form is saved: one service per kind of form, each in one transaction, with
optimistic locking, the reason for change, locks and the audit trail.

- `save_crf` writes the form of a visit (created on first save, then updated).
- `save_log_record` writes an entry of a repeating form (a log), numbering new entries.

A form's own service (e.g. outcomes.services.record_womac) computes its derived values and
then calls one of these.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from trialsite.audit import context as audit
from trialsite.crf.locking import ensure_unlocked
from trialsite.crf.models import Crf, CrfStatus, LogRecord

REASON_REQUIRED = "This form is complete: give a reason for the change."


@dataclass
class CrfConflict(Exception):
    """Someone saved this record after the user loaded it; `current` is what is stored now."""

    current: models.Model

    def __str__(self) -> str:
        return f"{self.current._meta.verbose_name} was changed by someone else"


class ReasonRequired(ValidationError):
    pass


def save_crf(
    *,
    crf_class: type[Crf],
    visit,
    data: dict,
    version: int,
    complete: bool,
    reason: str = "",
    by,
) -> Crf:
    """Create or update the `crf_class` form of `visit` with `data`, as user `by`.

    `version` is the version the user's page was loaded from (0 for a new form). A save from a
    stale page raises CrfConflict and changes nothing. Changing a complete form needs `reason`,
    which is written to the audit trail with each changed row.
    """
    with transaction.atomic(), audit.acting(by=by, reason=reason.strip()):
        current = crf_class.objects.select_for_update().filter(visit=visit).first()
        ensure_unlocked(participant=visit.participant, visit=visit, record=current)
        if (current.version if current else 0) != version:
            if current is None:  # a page of a form that is no longer there, or a forged post
                raise ValidationError("This form has no saved version: reload the page.")
            raise CrfConflict(current)
        if current is not None and current.is_complete and not reason.strip():
            raise ReasonRequired(REASON_REQUIRED)
        crf = current or crf_class(
            participant=visit.participant, visit=visit, site_id=visit.participant.site_id
        )
        for name, value in data.items():
            setattr(crf, name, value)
        crf.status = CrfStatus.COMPLETE if complete else CrfStatus.IN_PROGRESS
        crf.stamp_change(by)
        crf.full_clean()
        try:
            with transaction.atomic():
                crf.save()
        except IntegrityError:
            # Someone created the same form for this visit between our read and our insert.
            raise CrfConflict(crf_class.objects.get(visit=visit)) from None
        return crf


def save_log_record(
    *,
    model: type[LogRecord],
    participant,
    record: LogRecord | None,
    data: dict,
    version: int,
    reason: str = "",
    by,
) -> LogRecord:
    """Add an entry to a participant's log (`record` None) or change one, as user `by`.

    A new entry takes the next number of the participant's log (the participant's row is
    locked meanwhile, so numbers follow the order of saving). A change needs `reason` and
    the version the user's page was loaded from; a stale one raises CrfConflict.
    """
    with transaction.atomic(), audit.acting(by=by, reason=reason.strip()):
        ensure_unlocked(participant=participant, record=record)
        if record is None:
            type(participant).objects.select_for_update().get(pk=participant.pk)
            last = model.objects.filter(participant=participant).aggregate(n=models.Max("number"))
            entry = model(
                participant=participant, site_id=participant.site_id, number=(last["n"] or 0) + 1
            )
        else:
            entry = model.objects.select_for_update().get(pk=record.pk)
            if entry.version != version:
                raise CrfConflict(entry)
            if not reason.strip():
                raise ReasonRequired(REASON_REQUIRED)
        for name, value in data.items():
            setattr(entry, name, value)
        entry.stamp_change(by)
        entry.full_clean()
        entry.save()
        return entry
