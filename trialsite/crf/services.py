"""How every form is saved: one service per kind of form, each in one transaction, with
optimistic locking, the reason for change, locks and the audit trail.

- `save_crf` writes the form of a visit (created on first save, then updated).
- `save_log_record` writes an entry of a repeating form (a log), numbering new entries.

A form's own service (e.g. outcomes.services.record_womac) computes its derived values and
then calls one of these.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Exists, ExpressionWrapper, OuterRef, Q, Value
from psycopg.errors import UniqueViolation

from trialsite import compiled
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


# Foreign keys a service sets from rows it has just read (or the acting user): full_clean()
# need not look each of them up again.
SET_HERE = ("created_by", "modified_by", "participant", "visit", "site")


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
    try:
        with transaction.atomic(), audit.acting(by=by, reason=reason.strip()):
            current = _current_with_visit_locked(crf_class, visit)
            ensure_unlocked(participant=visit.participant, visit=visit, record=current)
            if (current.version if current else 0) != version:
                if current is None:  # a page of a form no longer there, or a forged post
                    raise ValidationError("This form has no saved version: reload the page.")
                raise CrfConflict(current)
            if current is not None and current.is_complete and not reason.strip():
                raise ReasonRequired(REASON_REQUIRED)
            crf = current or crf_class(
                participant=visit.participant, visit=visit, site=visit.participant.site
            )
            for name, value in data.items():
                setattr(crf, name, value)
            crf.status = CrfStatus.COMPLETE if complete else CrfStatus.IN_PROGRESS
            crf.stamp_change(by)
            # The database enforces one form per visit and the CHECK constraints as it saves
            # (a round trip each fewer than asking it first); a refusal rolls the transaction
            # (or the caller's savepoint) back and is told below.
            crf.full_clean(exclude=SET_HERE, validate_unique=False)
            crf.save()
            _note_visit_entered(visit)
    except IntegrityError as error:
        if (constraint := _constraint_of(crf_class, error)) is not None:
            raise _refused(constraint) from None
        if isinstance(error.__cause__, UniqueViolation):
            # Someone created the same form for this visit between our read and our insert.
            raise CrfConflict(crf_class.objects.get(visit=visit)) from None
        raise
    return crf


def _current_with_visit_locked(crf_class: type[Crf], visit) -> Crf | None:
    """The visit's record of `crf_class` (None if there is none yet), read by the statement that
    locks the visit's row: the saves of a visit's forms take turns, so that each one's account
    of whether the visit's forms are all complete (_note_visit_entered) sees the others'."""
    quote = connection.ops.quote_name
    sql = (  # table names of our models, quoted; the visit's id a parameter
        f"SELECT c.* FROM {quote(type(visit)._meta.db_table)} v "  # noqa: S608
        f"LEFT JOIN {quote(crf_class._meta.db_table)} c ON c.visit_id = v.id "
        "WHERE v.id = %s FOR UPDATE OF v"
    )
    found = next(iter(crf_class.objects.raw(sql, [visit.pk])), None)
    if found is None or found.pk is None:
        return None
    return found.knowing(visit, visit.participant, visit.participant.site)


def _visit_forms() -> list:
    """The forms whose records make a visit's forms complete: those entered at visits."""
    from trialsite.crf import registry  # the registry names this module's services

    return [d for d in registry.forms(registry.Kind.PER_VISIT) if not d.visit_record]


def _complete_record(definition) -> Exists:
    records = definition.model.objects.filter(visit=OuterRef("pk"), status=CrfStatus.COMPLETE)
    return Exists(records)


def _note_visit_entered(visit) -> None:
    """Keep on the visit whether every form due at it has a complete record (Visit.
    forms_complete, read by the lists of outstanding forms), in one UPDATE whose subqueries see
    every save committed before this one's lock; and that something was entered since it was
    last signed (Visit.awaiting_signature, read by the list of visits ready to sign). The
    statement is compiled once for each set of forms due (trialsite/compiled.py)."""
    from trialsite.crf import registry  # the registry names this module's services

    due = tuple(registry.visit_forms(visit))

    def build(pk):
        complete = Q()
        for definition in due:
            complete &= Q(_complete_record(definition))
        return type(visit).objects.filter(pk__any=pk), {
            "forms_complete": ExpressionWrapper(complete, output_field=models.BooleanField())
            if complete
            else Value(True),
            "awaiting_signature": True,
        }

    key = (_note_visit_entered, type(visit), *(definition.name for definition in due))
    compiled.update(key, build, [visit.pk])


def note_forms_complete(visits: models.QuerySet) -> None:
    """Visit.forms_complete of many visits at once, as each save keeps it for its visit: after
    records were loaded in bulk, without their services (synthetic studies)."""
    complete = Q()
    for definition in _visit_forms():
        complete &= ~definition.due_where() | Q(_complete_record(definition))
    visits.filter(complete).update(forms_complete=True)
    visits.exclude(complete).update(forms_complete=False)


def _constraint_of(model, error: IntegrityError):
    """The CHECK constraint of `model` that the database refused, if it was one."""
    name = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
    return next(
        (
            c
            for c in model._meta.constraints
            if c.name == name and isinstance(c, models.CheckConstraint)
        ),
        None,
    )


def _refused(constraint: models.CheckConstraint) -> ValidationError:
    """A refused CHECK constraint as the ValidationError full_clean() would have raised."""
    return ValidationError(
        {
            "__all__": ValidationError(
                constraint.get_violation_error_message(), code=constraint.violation_error_code
            )
        }
    )


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
        entry.full_clean(exclude=SET_HERE)
        entry.save()
        return entry
