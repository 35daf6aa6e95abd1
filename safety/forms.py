from django import forms
from django.utils import timezone

from safety import grading
from safety.models import (
    AE_FIELDS,
    REVIEW_FIELDS,
    AdverseEvent,
    ConcomitantMedication,
    RescueAnalgesia,
    Route,
)
from trialsite import protocol
from trialsite.crf.forms import CrfForm, CrfMeta, TrackedForm
from visits import dosing

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _no_prgf(form, participant, user) -> None:
    """Arm A receives no PRGF: its relationship question is not asked. Whether it is asked
    would reveal the arm, so a user who may not see arms is never asked it (the form base
    leaves it out for them); the investigator assesses it when signing."""
    if "relationship_prgf" not in form.fields:
        return
    if not dosing.ARMS[participant.arm].prgf_ml:
        form.fields.pop("relationship_prgf")
    else:
        form.fields["relationship_prgf"].required = True


class AdverseEventForm(TrackedForm):
    conditions = {name: ("serious", "yes") for name in grading.SERIOUSNESS_CRITERIA}

    class Meta(CrfMeta):
        model = AdverseEvent
        fields = AE_FIELDS
        widgets = {
            "onset_date": DATE,
            "end_date": DATE,
            "onset_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "awareness_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "location": forms.RadioSelect,
            "grade": forms.RadioSelect,
            "relationship_secretome": forms.RadioSelect,
            "relationship_prgf": forms.RadioSelect,
            "relationship_procedure": forms.RadioSelect,
            "outcome": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.participant is None and self.instance.pk:
            self.participant = self.instance.participant
        if self.participant is not None:
            _no_prgf(self, self.participant, self.user)
        elif "relationship_prgf" in self.fields:  # a blank form for the binder
            self.fields["relationship_prgf"].help_text = "Arm B (PRGF) only."
        # Seriousness criteria and the special-interest flag are ticks, not yes/no questions.
        for name in [*grading.SERIOUSNESS_CRITERIA, "special_interest"]:
            model_field = AdverseEvent._meta.get_field(name)
            self.fields[name] = forms.BooleanField(
                required=False,
                label=model_field.verbose_name[:1].upper() + model_field.verbose_name[1:],
                help_text=model_field.help_text,
                initial=getattr(self.instance, name),
            )
        self.fields["expected_reaction"].choices = [
            ("", "Not an expected reaction"),
            *((r, r) for r in protocol.EXPECTED_REACTIONS),
        ]
        if not self.is_bound and not self.instance.pk:
            self.fields["verbatim_term"].widget.attrs["autofocus"] = True

    def _today(self):
        """The participant's site's day (the user's zone when the form has no participant)."""
        if self.participant is not None:
            return self.participant.site.today()
        return timezone.localdate()

    def clean_onset_date(self):
        value = self.cleaned_data["onset_date"]
        if value and value > self._today():
            raise forms.ValidationError("The onset cannot be in the future.")
        return value

    def clean_end_date(self):
        value = self.cleaned_data["end_date"]
        if value and value > self._today():
            raise forms.ValidationError("The end date cannot be in the future.")
        return value

    def clean_awareness_at(self):
        value = self.cleaned_data["awareness_at"]
        if value and value > timezone.now():
            raise forms.ValidationError("Awareness cannot be in the future.")
        return value

    def clean(self):
        cleaned = super().clean()
        # The same rules as the service, so that each message lands next to its field.
        if self.participant is None:
            return cleaned
        consent_at = self.participant.screening.consent.consented_at
        site = self.participant.site
        rules = grading.check(cleaned, consent_date=site.local_date(consent_at), zone=site.zone)
        for field, message in rules.items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, message)
        return cleaned


class SignatureForm(forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Signing means: reviewed and approved, causality and expectedness confirmed.",
    )

    class Meta(CrfMeta):
        model = AdverseEvent
        fields = REVIEW_FIELDS
        widgets = {
            "relationship_secretome": forms.RadioSelect,
            "relationship_prgf": forms.RadioSelect,
            "relationship_procedure": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _no_prgf(self, self.instance.participant, None)
        self.fields["version"].initial = self.instance.version
        self.fields["expected_reaction"].choices = [
            ("", "Not an expected reaction"),
            *((r, r) for r in protocol.EXPECTED_REACTIONS),
        ]
        for field in self.fields.values():
            if isinstance(field.widget, forms.RadioSelect):
                field.choices = [(v, label) for v, label in field.choices if v != ""]

    def confirmed(self) -> dict:
        return {name: self.cleaned_data[name] for name in REVIEW_FIELDS if name in self.fields}


class ListingFilter(forms.Form):
    site = forms.ModelChoiceField(queryset=None, required=False)
    arm = forms.ChoiceField(required=False, choices=[("", "All"), ("A", "Arm A"), ("B", "Arm B")])
    participant = forms.CharField(required=False, max_length=20, label="Participant ID")
    grade = forms.MultipleChoiceField(
        required=False,
        choices=[(g, str(g)) for g in range(1, 6)],
        widget=forms.CheckboxSelectMultiple,
        label="CTCAE grade",
    )
    serious = forms.ChoiceField(
        required=False, choices=[("", "All"), ("yes", "Serious"), ("no", "Not serious")]
    )
    related = forms.ChoiceField(
        required=False, choices=[("", "All"), ("yes", "Related"), ("no", "Not related")]
    )
    onset_from = forms.DateField(required=False, widget=DATE, label="Onset from")
    onset_to = forms.DateField(required=False, widget=DATE, label="Onset to")
    review = forms.ChoiceField(
        required=False,
        choices=[("", "All"), ("awaiting", "Awaiting review"), ("signed", "Signed")],
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("-onset", "Newest onset first"),
            ("onset", "Oldest onset first"),
            ("participant", "Participant"),
            ("-grade", "Highest grade first"),
            ("grade", "Lowest grade first"),
        ],
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = user.sites.all()
        if not user.sees_arm:
            # The arm, and relatedness to PRGF (asked only in arm B), reveal the arm.
            del self.fields["arm"]
            self.fields["related"].label = "Related to the secretome or the procedure"

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("onset_from"), cleaned.get("onset_to")
        if start and end and end < start:
            self.add_error("onset_to", "The end of the range is before its start.")
        return cleaned


class RescueAnalgesiaForm(CrfForm):
    tablets_per_week = forms.IntegerField(
        label="Tablets per week since the last visit",
        min_value=0,
        max_value=protocol.RESCUE_TABLETS_PER_WEEK_LIMIT,
        required=False,
        help_text="The average number of tablets a week; 0 when none were taken.",
    )

    class Meta(CrfMeta):
        model = RescueAnalgesia
        fields = ["tablets_per_week"]

    def soft_checks(self, cleaned: dict) -> dict[str, str]:
        tablets = cleaned.get("tablets_per_week")
        if tablets is not None and tablets > protocol.RESCUE_TABLETS_PER_WEEK_USUAL_MAX:
            return {
                "tablets_per_week": f"{tablets} tablets a week is more than the maximum daily "
                f"dose every day ({protocol.RESCUE_TABLETS_PER_WEEK_USUAL_MAX}): check with "
                "the participant."
            }
        return {}


class ConcomitantMedicationForm(TrackedForm):
    """An entry of the concomitant medications log."""

    conditions = {"stop_date": ("ongoing", "no")}

    class Meta(CrfMeta):
        model = ConcomitantMedication
        fields = [
            "drug_name",
            "atc_code",
            "indication",
            "dose",
            "dose_unit",
            "route",
            "frequency",
            "start_date",
            "ongoing",
            "stop_date",
        ]
        widgets = {"start_date": DATE, "stop_date": DATE}

    def clean_atc_code(self):
        return self.cleaned_data["atc_code"].strip().upper()

    @property
    def forbidden_rules(self) -> list[tuple[str, str]]:
        """The protocol's forbidden medications, in words, for the page."""
        routes = dict(Route.choices)
        found = []
        for rule in protocol.FORBIDDEN_MEDICATIONS:
            days = rule.days_before_pain_assessment
            label = f"{rule.label} ({days} days)" if days else rule.label
            detail = ", ".join(rule.names) + "; ATC " + ", ".join(rule.atc_prefixes)
            if rule.routes:
                detail += "; " + ", ".join(routes[r].lower() for r in rule.routes)
            found.append((label, detail))
        return found
