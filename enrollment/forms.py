from django import forms
from django.utils import timezone

from enrollment import eligibility
from enrollment.models import Consent, EndOfStudy, Screening
from trialsite import protocol, roles
from trialsite.accounts.models import User
from trialsite.crf.forms import CrfMeta, TrackedForm, YesNoField

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

SCREENING_FIELDS = list(eligibility.ANSWER_NAMES)


def _sections(starts: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """Split SCREENING_FIELDS into titled sections, each named with its first field."""
    bounds = [SCREENING_FIELDS.index(first) for _, first in starts] + [len(SCREENING_FIELDS)]
    return [
        (title, SCREENING_FIELDS[a:b])
        for (title, _), a, b in zip(starts, bounds, bounds[1:], strict=False)
    ]


# Sections of the screening page, in screen order.
SCREENING_SECTIONS = _sections(
    [
        ("Candidate", "screening_date"),
        ("Knees", "index_knee"),
        ("ACR 1986 criteria for knee osteoarthritis", "knee_pain"),
        ("Pain", "vas_index_knee_mm"),
        ("Exclusions", "prior_lower_limb_surgery"),
        ("Willingness", "willing"),
    ]
)


class ScreeningForm(TrackedForm):
    pregnant_or_breastfeeding = YesNoField(
        label="Pregnant or breastfeeding", required=False, help_text="Asked of female candidates."
    )

    class Meta(CrfMeta):
        model = Screening
        fields = SCREENING_FIELDS
        widgets = {
            "screening_date": DATE,
            "date_of_birth": DATE,
            "sex": forms.RadioSelect,
            "index_knee": forms.RadioSelect,
            "kl_grade_left": forms.RadioSelect,
            "kl_grade_right": forms.RadioSelect,
            "height_cm": forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
            "weight_kg": forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
            "vas_index_knee_mm": forms.NumberInput(attrs={"step": 1, "inputmode": "numeric"}),
        }
        error_messages = {
            "vas_index_knee_mm": {
                "min_value": "Enter whole millimetres from 0 to 100.",
                "max_value": "Enter whole millimetres from 0 to 100.",
                "invalid": "Enter whole millimetres from 0 to 100.",
            },
        }

    def clean_screening_date(self):
        value = self.cleaned_data["screening_date"]
        if value > timezone.localdate():
            raise forms.ValidationError("The screening date cannot be in the future.")
        return value

    def clean(self):
        cleaned = super().clean()
        born, screened = cleaned.get("date_of_birth"), cleaned.get("screening_date")
        if born and screened and born >= screened:
            self.add_error("date_of_birth", "The date of birth must be before the screening date.")
        if cleaned.get("sex") == "F" and cleaned.get("pregnant_or_breastfeeding") is None:
            self.add_error("pregnant_or_breastfeeding", "Answer yes or no for a female candidate.")
        if cleaned.get("sex") == "M":
            cleaned["pregnant_or_breastfeeding"] = None
        if cleaned.get("secondary_oa") and not (cleaned.get("secondary_oa_cause") or "").strip():
            self.add_error("secondary_oa_cause", "Say what caused the secondary OA.")
        if cleaned.get("secondary_oa") is False:
            cleaned["secondary_oa_cause"] = ""
        return cleaned

    def answers(self) -> dict:
        """The answers that are valid so far (for the live eligibility check)."""
        return {name: self.cleaned_data.get(name) for name in SCREENING_FIELDS}

    def sections(self):
        return [self.section(title, names) for title, names in SCREENING_SECTIONS]


class ConsentForm(forms.ModelForm):
    copy_given = YesNoField(label="Copy of the signed form given to the participant")

    class Meta:
        model = Consent
        fields = ["consented_at", "form_version", "obtained_by", "copy_given"]
        widgets = {"consented_at": DATETIME}

    def __init__(self, *args, site=None, participant=None, visit=None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if site is None and self.instance.pk:
            site = self.instance.screening.site
        self.fields["obtained_by"].queryset = User.objects.filter(
            sites=site, groups__name__in=[roles.COORDINATOR, roles.INVESTIGATOR], is_active=True
        ).distinct()
        # The current approved version comes first in the protocol.
        self.fields["form_version"].initial = protocol.CONSENT_FORM_VERSIONS[0]

    def clean_consented_at(self):
        value = self.cleaned_data["consented_at"]
        if value > timezone.now():
            raise forms.ValidationError("Consent cannot be in the future.")
        return value

    def sections(self):
        """The items in screen order (the page and the PDF CRFs lay the form out from it)."""
        return [("", [self[name] for name in self._meta.fields])]


class WithdrawalForm(forms.Form):
    withdrawn_on = forms.DateField(label="Consent withdrawn on", widget=DATE)
    data_use_allowed = YesNoField(label="May the data collected so far be used?")
    note = forms.CharField(
        label="Note", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class EndOfStudyForm(TrackedForm):
    """How and when the participant's study ended."""

    conditions = {
        "reason": ("status", "early_termination"),
        "reason_detail": ("status", "early_termination"),
    }

    class Meta(CrfMeta):
        model = EndOfStudy
        fields = ["status", "reason", "reason_detail", "ended_on", "last_contact_on"]
        widgets = {
            "status": forms.RadioSelect,
            "reason": forms.RadioSelect,
            "reason_detail": forms.Textarea(attrs={"rows": 2}),
            "ended_on": DATE,
            "last_contact_on": DATE,
        }
        help_texts = {
            "reason_detail": "Required for “Other”; for an adverse event, name it.",
            "last_contact_on": "The last visit or call with the participant.",
        }
