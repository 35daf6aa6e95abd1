"""What every form of the study stores, and the locks that freeze it.

- `Audited` marks a model whose table carries the audit trigger (trialsite.audit.triggers).
- `Tracked` adds who created and last changed a record, when, and a version for optimistic
  locking.
- `Crf` is a form filled in once per visit (VAS pain, WOMAC, ...); `LogRecord` is a repeating
  form of a participant, numbered 1, 2, 3, ... (adverse events, ...).
- `Lock` is a data manager's lock on the study, a participant, a visit or one record; while
  active the database refuses every change it covers (locking.py).

Models hold fields and constraints only; saving is in services.py, and what each form is (its
title, page, export, blinding) is declared once in its app's `crfs.py` (registry.py).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from trialsite.crf import rules
from trialsite.crf.fields import BoundedTextField, PlausibleDateTimeField


class Audited(models.Model):
    """Rows of this model's table are recorded in the audit trail by a database trigger.

    Concrete subclasses add `audit.track("app.Model", participant_column=...)` to the
    migration that creates their table; the test suite checks that none is missing.
    """

    audit_participant_column = "participant_id"

    class Meta:
        abstract = True

    def full_clean(self, exclude=None, *args, **kwargs):
        # clean() leaves the items a form does not ask, or has refused already, to the form.
        self._clean_exclude = set(exclude or ())
        try:
            super().full_clean(exclude, *args, **kwargs)
        finally:
            del self._clean_exclude

    def clean(self):
        """The relative rules of this record's dates, the reasons its items are missing
        (trialsite/crf/rules.py) and the form's own rules (`rule_errors`), all at once."""
        super().clean()
        exclude = getattr(self, "_clean_exclude", ())
        errors = {
            **self.rule_errors(),
            **rules.relative_errors(self),
            **rules.missing_errors(self, exclude),
        }
        if errors:
            raise ValidationError(errors)

    def rule_errors(self) -> dict[str, str]:
        """A form's own rules across its items (its rule module), by item."""
        return {}


class CrfStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETE = "complete", "Complete"


class Tracked(Audited):
    """Who created and last changed a record, when, and its version for optimistic locking."""

    created_at = PlausibleDateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    modified_at = PlausibleDateTimeField(default=timezone.now, editable=False)
    modified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        abstract = True

    def knowing(self, *rows: models.Model):
        """This record, given `rows` already read that its foreign keys name (its participant,
        visit, site): validating, showing and saving it read none of them again. A row is
        taken only by a key that holds its id."""
        for field in self._meta.concrete_fields:
            if field.is_relation:
                for row in rows:
                    if type(row) is field.related_model and getattr(self, field.attname) == row.pk:
                        field.set_cached_value(self, row)
        return self

    def stamp_change(self, by) -> None:
        """Record `by` as the author of the change about to be saved, and bump the version."""
        now = timezone.now()
        if self.pk is None:
            self.created_by, self.created_at, self.version = by, now, 0
        self.modified_by, self.modified_at = by, now
        self.version += 1


class Crf(Tracked):
    """A form filled in once per visit."""

    participant = models.ForeignKey(
        "enrollment.Participant", on_delete=models.PROTECT, related_name="+"
    )
    visit = models.ForeignKey("visits.Visit", on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=12, choices=CrfStatus.choices, default=CrfStatus.IN_PROGRESS
    )

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(fields=["visit"], name="%(app_label)s_%(class)s_one_per_visit"),
        ]
        # The records still in progress, by site: the data-quality report reads those left
        # unfinished, not every record of the site.
        indexes = [
            models.Index(
                fields=["site"],
                condition=models.Q(status=CrfStatus.IN_PROGRESS),
                name="%(class)s_in_progress",
            )
        ]

    @property
    def is_complete(self) -> bool:
        return self.status == CrfStatus.COMPLETE

    def full_clean(self, exclude=None, validate_unique=True, validate_constraints=True):
        """As Model.full_clean, but the CHECK constraints are left to the database as the form
        is saved (save_crf, which saves every per-visit form, gives a refusal back as the same
        error): a round trip per constraint fewer. Each item's own validators still check it
        in the form, beside the item."""
        super().full_clean(exclude, validate_unique, validate_constraints=False)


class LogRecord(Tracked):
    """One entry of a repeating form of a participant (a log), numbered from 1 in order."""

    participant = models.ForeignKey(
        "enrollment.Participant", on_delete=models.PROTECT, related_name="+"
    )
    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="+")
    number = models.PositiveSmallIntegerField(editable=False)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "number"], name="%(app_label)s_%(class)s_number"
            ),
        ]

    # A log entry is complete once saved: its form asks for every required item.
    is_complete = True


def data_field_names(model) -> list[str]:
    """The fields of a form's model that hold its answers (not the bookkeeping of the base)."""
    base = {f.name for base in (Crf, LogRecord) for f in base._meta.get_fields()} | {"id"}
    return [f.name for f in model._meta.concrete_fields if f.name not in base]


# --- Locks ---------------------------------------------------------------------------------------
class LockQuerySet(models.QuerySet):
    def active(self) -> "LockQuerySet":
        return self.filter(unlocked_at__isnull=True)


class Lock(Audited):
    """A data manager's lock on the whole study, a participant, a visit or one record.

    While active, the database refuses every insert, update and delete of locked clinical rows
    (trigger `refuse_locked_change`, locking.py), whoever attempts it. The table was created by
    the monitoring app and keeps its name.
    """

    audit_participant_column = "participant_id"

    class Scope(models.TextChoices):
        STUDY = "study", "Whole study"
        PARTICIPANT = "participant", "Participant"
        VISIT = "visit", "Visit"
        RECORD = "record", "Record"

    scope = models.CharField(max_length=12, choices=Scope.choices)
    participant = models.ForeignKey(
        "enrollment.Participant", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    visit = models.ForeignKey(
        "visits.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    table_name = models.CharField(max_length=128, blank=True)
    row_pk = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=200)
    lock_reason = BoundedTextField("reason for locking", max_length=500, blank=True)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    locked_at = PlausibleDateTimeField(default=timezone.now)
    unlocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    unlocked_at = PlausibleDateTimeField(null=True, blank=True)
    unlock_reason = BoundedTextField(blank=True)

    objects = LockQuerySet.as_manager()

    class Meta:
        db_table = "monitoring_lock"
        ordering = ["-locked_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(scope="study", participant__isnull=True, visit__isnull=True)
                    | models.Q(scope="participant", participant__isnull=False)
                    | models.Q(scope="visit", visit__isnull=False)
                    | (models.Q(scope="record") & ~models.Q(table_name="") & ~models.Q(row_pk=""))
                ),
                name="monitoring_lock_target",
            ),
            models.CheckConstraint(
                condition=models.Q(unlocked_at__isnull=True) | ~models.Q(unlock_reason=""),
                name="monitoring_unlock_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Lock: {self.description}"

    @property
    def is_active(self) -> bool:
        return self.unlocked_at is None
