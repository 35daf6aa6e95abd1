"""The CRF base: what every case report form has, and how every CRF is saved.

- `Audited` marks a model whose table carries the audit trigger (trialsite.audit.triggers).
- `Crf` is the one abstract model every CRF uses: participant, visit, site, status, who and when,
  and a version for optimistic locking.
- `save_crf` is the one service that writes a CRF: it refuses a save made from stale data
  (`CrfConflict`) and asks for a reason for change once a form is complete.
- `CrfForm` is the form base: version travels in a hidden field, and a reason for change is
  required when a complete form is edited.
"""

from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from trialsite.audit import context as audit


class Audited(models.Model):
    """Rows of this model's table are recorded in the audit trail by a database trigger.

    Concrete subclasses add `audit.track("app.Model", participant_column=...)` to the
    migration that creates their table; the test suite checks that none is missing.
    """

    audit_participant_column = "participant_id"

    class Meta:
        abstract = True


class CrfStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETE = "complete", "Complete"


class Crf(Audited):
    participant = models.ForeignKey(
        "enrollment.Participant", on_delete=models.PROTECT, related_name="+"
    )
    visit = models.ForeignKey("visits.Visit", on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=12, choices=CrfStatus.choices, default=CrfStatus.IN_PROGRESS
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    modified_at = models.DateTimeField(default=timezone.now, editable=False)
    modified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    version = models.PositiveIntegerField(default=1, editable=False)

    # The short name shared by the CRF's rule module, form, templates and tests ("vas_pain").
    crf_name: str = ""
    crf_title: str = ""

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(fields=["visit"], name="%(app_label)s_%(class)s_one_per_visit"),
        ]

    @property
    def is_complete(self) -> bool:
        return self.status == CrfStatus.COMPLETE

    @classmethod
    def data_field_names(cls) -> list[str]:
        """The fields a user fills in, in screen order."""
        base = {f.name for f in Crf._meta.get_fields()} | {"id"}
        return [f.name for f in cls._meta.concrete_fields if f.name not in base]


# --- Saving -----------------------------------------------------------------------------------
REASON_REQUIRED = "This form is complete: give a reason for the change."


@dataclass
class CrfConflict(Exception):
    """Someone saved this CRF after the user loaded it; `current` is what is stored now."""

    current: Crf

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
    with transaction.atomic():
        current = crf_class.objects.select_for_update().filter(visit=visit).first()
        if (current.version if current else 0) != version:
            if current is None:
                raise ValueError("version given for a form that does not exist")
            raise CrfConflict(current)
        if current is not None and current.is_complete and not reason.strip():
            raise ReasonRequired(REASON_REQUIRED)
        audit.stamp(by=by, reason=reason.strip())
        now = timezone.now()
        crf = current or crf_class(
            participant=visit.participant,
            visit=visit,
            site_id=visit.participant.site_id,
            created_by=by,
            created_at=now,
            version=0,
        )
        for name, value in data.items():
            setattr(crf, name, value)
        crf.status = CrfStatus.COMPLETE if complete else CrfStatus.IN_PROGRESS
        crf.modified_at = now
        crf.modified_by = by
        crf.version += 1
        crf.full_clean()
        try:
            with transaction.atomic():
                crf.save()
        except IntegrityError:
            # Someone created the same form for this visit between our read and our insert.
            raise CrfConflict(crf_class.objects.get(visit=visit)) from None
        return crf


# --- Form base --------------------------------------------------------------------------------
class CrfForm(forms.ModelForm):
    """Base of every CRF form. Subclasses set Meta.model and Meta.fields (screen order)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    mark_complete = forms.BooleanField(
        required=False,
        label="Form complete",
        help_text="Tick when every item has been entered and checked against the source.",
    )
    reason_for_change = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when changing a complete form; kept in the audit trail.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field.widget, forms.RadioSelect) and field.required:
                # Radio buttons show the answers only; "no answer" is simply none ticked.
                field.choices = [(v, label) for v, label in field.choices if v != ""]
        instance = self.instance
        self.fields["version"].initial = instance.version if instance.pk else 0
        self.fields["mark_complete"].initial = instance.pk is not None and instance.is_complete
        if not (instance.pk and instance.is_complete):
            # A form that was never complete changes without a reason.
            del self.fields["reason_for_change"]

    def clean(self):
        cleaned = super().clean()
        if (
            "reason_for_change" in self.fields
            and self.changes_data()
            and not (cleaned.get("reason_for_change") or "").strip()
        ):
            self.add_error("reason_for_change", REASON_REQUIRED)
        return cleaned

    def changes_data(self) -> bool:
        """Whether the user changed any item or the complete mark."""
        return bool(set(self.changed_data) - {"version", "reason_for_change"})

    def data_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}
