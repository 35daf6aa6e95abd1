from django import forms
from django.db import models
from django.utils import timezone

from trialsite.crf.forms import CrfForm, CrfMeta, TrackedForm, YesNoField
from visits import services
from visits.models import (
    Deviation,
    DeviationCategory,
    DeviationSeverity,
    Injection,
    PrgfPreparation,
    ReleaseTest,
    SecretomeLot,
    Visit,
)

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
ML_INPUT = forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"})


def _not_in_future(value):
    if value and value > timezone.now():
        raise forms.ValidationError("This cannot be in the future.")
    return value


class InjectionForm(CrfForm):
    class Meta(CrfMeta):
        model = Injection
        fields = [
            "injected_at",
            "knee",
            "ultrasound_guided",
            "approach",
            "needle_gauge",
            "aspiration_done",
            "aspiration_volume_ml",
            "aspiration_appearance",
            "aspiration_sample_sent",
            "secretome_lot",
            "secretome_volume_ml",
            "prgf_volume_ml",
            "deviation_reason",
        ]
        widgets = {
            "injected_at": DATETIME,
            "knee": forms.RadioSelect,
            "approach": forms.RadioSelect,
            "aspiration_appearance": forms.RadioSelect,
            "aspiration_volume_ml": ML_INPUT,
            "secretome_volume_ml": ML_INPUT,
            "prgf_volume_ml": ML_INPUT,
            "deviation_reason": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        site = self.participant.site if self.participant else None
        lots = services.usable_lots(site.today() if site else timezone.localdate())
        if self.instance.pk:  # the lot already used stays selectable
            lots = lots | SecretomeLot.objects.filter(pk=self.instance.secretome_lot_id)
        self.fields["secretome_lot"].queryset = lots.order_by("expires_on")
        self.fields["secretome_lot"].label_from_instance = lambda lot: (
            f"{lot.lot_number} ({lot.get_cell_source_display()}, expires "
            f"{lot.expires_on:%Y-%m-%d}, {lot.balance_ml} mL left)"
        )
        if self.visit is not None and self.visit.participant.arm == "A":
            del self.fields["prgf_volume_ml"]  # arm A receives no PRGF
        if not self.instance.pk:
            self.fields["secretome_volume_ml"].initial = services.dosing.ARMS["A"].secretome_ml
            if "prgf_volume_ml" in self.fields:
                self.fields["prgf_volume_ml"].initial = services.dosing.ARMS["B"].prgf_ml

    def clean_injected_at(self):
        return _not_in_future(self.cleaned_data["injected_at"])

    def clean_ultrasound_guided(self):
        if self.cleaned_data["ultrasound_guided"] is not True:
            raise forms.ValidationError(
                "The protocol requires ultrasound guidance: do not record an unguided injection "
                "here; report it to the investigator as a deviation."
            )
        return True

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("aspiration_done"):
            if cleaned.get("aspiration_volume_ml") is None:
                self.add_error("aspiration_volume_ml", "Enter the aspirated volume.")
            if not cleaned.get("aspiration_appearance"):
                self.add_error("aspiration_appearance", "Describe the aspirate.")
            if cleaned.get("aspiration_sample_sent") is None:
                self.add_error("aspiration_sample_sent", "Answer yes or no.")
        elif cleaned.get("aspiration_done") is False:
            cleaned["aspiration_volume_ml"] = None
            cleaned["aspiration_appearance"] = ""
            cleaned["aspiration_sample_sent"] = None
        return cleaned

    def data_values(self) -> dict:
        return {"prgf_volume_ml": None, **super().data_values()}


class StaffField(forms.ModelChoiceField):
    """One of the site's staff. The fields of a form that share a `read` dict read the staff
    once between them, not a query each."""

    read: dict | None = None

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if self.read is None:
            return super().to_python(value)
        if not self.read:
            self.read.update({str(user.pk): user for user in self.queryset})
        try:
            return self.read[str(getattr(value, "pk", value))]
        except KeyError:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            ) from None


class PrgfPreparationForm(CrfForm):
    class Meta(CrfMeta):
        model = PrgfPreparation
        fields = [
            "blood_drawn_at",
            "blood_volume_ml",
            "anticoagulant",
            "centrifugation_g",
            "centrifugation_minutes",
            "centrifugation_temperature_c",
            "fraction_collected",
            "platelets_whole_blood",
            "platelets_prgf",
            "activated_at",
            "calcium_chloride_ul",
            "mixed_with_secretome_at",
            "operator",
            "identity_checked_by",
        ]
        field_classes = {"operator": StaffField, "identity_checked_by": StaffField}
        widgets = {
            "blood_drawn_at": DATETIME,
            "activated_at": DATETIME,
            "mixed_with_secretome_at": DATETIME,
            "anticoagulant": forms.RadioSelect,
            "fraction_collected": forms.RadioSelect,
            "blood_volume_ml": ML_INPUT,
            "centrifugation_temperature_c": ML_INPUT,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        staff = self.fields["operator"].queryset
        if self.visit is not None:
            staff = staff.filter(sites=self.visit.participant.site, is_active=True)
        read: dict = {}  # the staff, read once for both fields
        for name in ("operator", "identity_checked_by"):
            self.fields[name].queryset = staff
            self.fields[name].read = read

    def clean_blood_drawn_at(self):
        return _not_in_future(self.cleaned_data["blood_drawn_at"])

    def clean(self):
        cleaned = super().clean()
        for field, message in services.dosing.check_prgf_times(
            cleaned.get("blood_drawn_at"),
            cleaned.get("activated_at"),
            cleaned.get("mixed_with_secretome_at"),
        ).items():
            self.add_error(field, message)
        if cleaned.get("operator") and cleaned.get("operator") == cleaned.get(
            "identity_checked_by"
        ):
            self.add_error(
                "identity_checked_by", "A second person must check the participant's identity."
            )
        return cleaned


def _visit_date():
    """The visit date as the model bounds it (trialsite/crf/fields.py)."""
    field = Visit._meta.get_field("visit_date")
    return forms.DateField(label="Date of visit", widget=DATE, validators=field.validators)


class VisitDateForm(forms.Form):
    visit_date = _visit_date()


class MissedVisitForm(forms.Form):
    missed_reason = forms.CharField(
        label="Reason the visit was missed",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class UnscheduledVisitForm(forms.Form):
    visit_date = _visit_date()
    unscheduled_reason = forms.CharField(
        label="Reason for the visit", max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class LotForm(forms.ModelForm):
    class Meta:
        model = SecretomeLot
        fields = [
            "lot_number",
            "cell_source",
            "manufactured_on",
            "expires_on",
            "storage",
            "volume_received_ml",
        ]
        widgets = {
            "manufactured_on": DATE,
            "expires_on": DATE,
            "cell_source": forms.RadioSelect,
            "volume_received_ml": ML_INPUT,
        }

    def clean(self):
        cleaned = super().clean()
        made, expires = cleaned.get("manufactured_on"), cleaned.get("expires_on")
        if made and made > timezone.localdate():
            self.add_error("manufactured_on", "The manufacture date cannot be in the future.")
        if made and expires and expires <= made:
            self.add_error("expires_on", "The expiry date must be after the manufacture date.")
        return cleaned


class ReleaseTestForm(forms.ModelForm):
    passed = YesNoField(label="Meets the specification")

    class Meta:
        model = ReleaseTest
        fields = ["test", "method", "specification", "result", "passed", "tested_on"]
        widgets = {"tested_on": DATE}

    def clean_tested_on(self):
        value = self.cleaned_data["tested_on"]
        if value > timezone.localdate():
            raise forms.ValidationError("The test date cannot be in the future.")
        return value


class ReleaseDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("release", "Release the lot"), ("reject", "Reject the lot")],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label="Note", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class DestroyForm(forms.Form):
    volume_ml = forms.DecimalField(
        label="Volume destroyed (mL)", max_digits=7, decimal_places=1, min_value=0.1
    )
    note = forms.CharField(label="Reason", max_length=300)


class DeviationForm(TrackedForm):
    """An entry of the protocol deviations register."""

    class Meta(CrfMeta):
        model = Deviation
        fields = [
            "category",
            "occurred_on",
            "description",
            "severity",
            "reported_to_ethics_on",
            "corrective_action",
        ]
        widgets = {
            "occurred_on": DATE,
            "reported_to_ethics_on": DATE,
            "severity": forms.RadioSelect,
            "description": forms.Textarea(attrs={"rows": 3}),
            "corrective_action": forms.Textarea(attrs={"rows": 2}),
        }


class DeviationFilter(forms.Form):
    """The filters of the deviations listing (and of its CSV)."""

    site = forms.ModelChoiceField(queryset=None, required=False, empty_label="All sites")
    participant = forms.CharField(required=False, max_length=20, label="Participant ID")
    category = forms.ChoiceField(
        required=False, choices=[("", "All categories"), *DeviationCategory.choices]
    )
    severity = forms.ChoiceField(
        required=False, choices=[("", "Major and minor"), *DeviationSeverity.choices]
    )
    reported = forms.ChoiceField(
        required=False,
        label="Ethics committee",
        choices=[("", "All"), ("no", "Not reported yet"), ("yes", "Reported")],
    )
    occurred_from = forms.DateField(required=False, widget=DATE, label="From")
    occurred_to = forms.DateField(required=False, widget=DATE, label="To")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = user.sites.all()

    def clean(self):
        data = super().clean()
        start, end = data.get("occurred_from"), data.get("occurred_to")
        if start and end and end < start:
            self.add_error("occurred_to", "This is before the first date.")
        return data

    def matching(self):
        """The filter as a Q on deviations."""
        data = self.cleaned_data if self.is_valid() else {}
        found = models.Q()
        if data.get("site"):
            found &= models.Q(site=data["site"])
        if data.get("participant"):
            found &= models.Q(participant__participant_id__icontains=data["participant"].strip())
        for name in ("category", "severity"):
            if data.get(name):
                found &= models.Q(**{name: data[name]})
        if data.get("reported"):
            found &= models.Q(reported_to_ethics_on__isnull=data["reported"] == "no")
        if data.get("occurred_from"):
            found &= models.Q(occurred_on__gte=data["occurred_from"])
        if data.get("occurred_to"):
            found &= models.Q(occurred_on__lte=data["occurred_to"])
        return found
