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
from django.utils.text import capfirst

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


class Tracked(Audited):
    """Who created and last changed a record, when, and its version for optimistic locking."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    modified_at = models.DateTimeField(default=timezone.now, editable=False)
    modified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        abstract = True

    def stamp_change(self, by) -> None:
        """Record `by` as the author of the change about to be saved, and bump the version."""
        now = timezone.now()
        if self.pk is None:
            self.created_by, self.created_at, self.version = by, now, 0
        self.modified_by, self.modified_at = by, now
        self.version += 1


class Crf(Tracked):
    participant = models.ForeignKey(
        "enrollment.Participant", on_delete=models.PROTECT, related_name="+"
    )
    visit = models.ForeignKey("visits.Visit", on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=12, choices=CrfStatus.choices, default=CrfStatus.IN_PROGRESS
    )

    # Whether the form shows the participant's arm (hidden from blinded assessors).
    reveals_arm = False
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
    def is_due_at(cls, visit) -> bool:
        """Whether this CRF is collected at `visit` (protocol.VISIT_SCHEDULE)."""
        return cls.crf_name in visit.crfs_due

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
    with transaction.atomic(), audit.acting(by=by, reason=reason.strip()):
        from monitoring.locking import ensure_unlocked  # monitoring's models import this module

        current = crf_class.objects.select_for_update().filter(visit=visit).first()
        ensure_unlocked(participant=visit.participant, visit=visit, record=current)
        if (current.version if current else 0) != version:
            if current is None:
                raise ValueError("version given for a form that does not exist")
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


# --- Form base --------------------------------------------------------------------------------
YES_NO = [("yes", "Yes"), ("no", "No")]


class YesNoField(forms.TypedChoiceField):
    """A yes/no question answered with two radio buttons: "no" is an answer, not a blank."""

    widget = forms.RadioSelect

    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {"required": "Answer yes or no."})
        super().__init__(choices=YES_NO, coerce=lambda v: v == "yes", empty_value=None, **kwargs)

    def prepare_value(self, value):
        if value is True:
            return "yes"
        if value is False:
            return "no"
        return value


def crf_formfield(model_field, **kwargs):
    """Form fields for CRF model fields: booleans become yes/no questions."""
    if isinstance(model_field, models.BooleanField):
        return YesNoField(
            label=capfirst(model_field.verbose_name),
            required=not model_field.null,
            help_text=model_field.help_text,
        )
    return model_field.formfield(**kwargs)


class CrfMeta:
    """Base of every CRF form's Meta."""

    formfield_callback = staticmethod(crf_formfield)


class TrackedForm(forms.ModelForm):
    """Form base for Tracked records: the version travels in a hidden field, and a reason for
    change is asked for when `reason_needed()` says so (see CrfForm)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    reason_for_change = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when changing saved data; kept in the audit trail.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field.widget, forms.RadioSelect):
                # Radio buttons show the answers only; "no answer" is simply none ticked.
                field.choices = [(v, label) for v, label in field.choices if v != ""]
        self.fields["version"].initial = self.instance.version if self.instance.pk else 0
        if not self.reason_needed():
            del self.fields["reason_for_change"]

    def sections(self) -> list[tuple[str, list]]:
        """The form's items in screen order, as (section title, bound fields).

        The page and the PDF CRFs both lay the form out from this, so their order is one.
        """
        return [("", [self[name] for name in self._meta.fields if name in self.fields])]

    def reason_needed(self) -> bool:
        return self.instance.pk is not None

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
        """Whether the user changed any item (or the complete mark)."""
        return bool(set(self.changed_data) - {"version", "reason_for_change", "confirm_unusual"})

    def data_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields if name in self.fields}


class CrfForm(TrackedForm):
    """Base of every CRF form. Subclasses set Meta.model and Meta.fields (screen order).

    `visit` is the visit the form belongs to, for forms whose choices depend on it.
    """

    mark_complete = forms.BooleanField(
        required=False,
        label="Form complete",
        help_text="Tick when every item has been entered and checked against the source.",
    )
    confirm_unusual = forms.BooleanField(
        required=False,
        label="I confirm these values",
        help_text="Unusual values are saved when confirmed; a query is opened on each.",
    )

    def __init__(self, *args, visit=None, **kwargs):
        self.visit = visit
        super().__init__(*args, **kwargs)
        if not self.is_bound:  # start typing at once; after errors the summary takes focus
            first = self.fields[self._meta.fields[0]]
            first.widget.attrs["autofocus"] = True
        self.fields["mark_complete"].initial = self.instance.pk is not None and (
            self.instance.is_complete
        )

    def reason_needed(self) -> bool:
        # A form that was never complete changes without a reason.
        return self.instance.pk is not None and self.instance.is_complete

    def soft_checks(self, cleaned: dict) -> dict[str, str]:
        """Unusual but admissible values, by field (the CRF's rule module defines them)."""
        return {}

    def clean(self):
        cleaned = super().clean()
        self.warnings = self.soft_checks(cleaned) if not self.errors else {}
        if self.warnings and not cleaned.get("confirm_unusual"):
            for field, message in self.warnings.items():
                self.add_error(field, f"{message} Tick “I confirm these values” to save anyway.")
        return cleaned
