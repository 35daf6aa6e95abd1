from django import forms
from django.utils import timezone

from outcomes import biomarkers, vas, womac
from outcomes.models import SynovialBiomarkers, VasPain, Womac
from trialsite.crf import CrfForm, CrfMeta


class VasPainForm(CrfForm):
    score_mm = forms.IntegerField(
        label="VAS pain (mm)",
        min_value=vas.MIN_MM,
        max_value=vas.MAX_MM,
        help_text="Whole millimetres from the left end (no pain) of the 100 mm line.",
        error_messages={
            "invalid": vas.OUT_OF_RANGE,
            "min_value": vas.OUT_OF_RANGE,
            "max_value": vas.OUT_OF_RANGE,
            "required": "Enter the VAS score in millimetres.",
        },
        widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric"}),
    )

    class Meta(CrfMeta):
        model = VasPain
        fields = ["assessed_at", "knee", "score_mm", "method"]
        widgets = {
            "assessed_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "knee": forms.RadioSelect,
            "method": forms.RadioSelect,
        }
        labels = {"knee": "Knee assessed"}

    def clean_assessed_at(self):
        value = self.cleaned_data["assessed_at"]
        if value > timezone.now():
            raise forms.ValidationError("The assessment cannot be in the future.")
        return value


class WomacForm(CrfForm):
    class Meta(CrfMeta):
        model = Womac
        fields = ["knee", *(code.lower() for code in womac.CODES)]
        widgets = {
            "knee": forms.RadioSelect,
            **{
                code.lower(): forms.RadioSelect(attrs={"class": "womac-answer"})
                for code in womac.CODES
            },
        }

    def sections(self):
        """(title, bound fields) for Pain, Stiffness and Physical function."""
        titles = {"pain": "Pain", "stiffness": "Stiffness", "function": "Physical function"}
        return [
            (titles[name], [self[code.lower()] for code in codes])
            for name, codes in womac.SUBSCALES.items()
        ]


ANALYTE_FIELDS = ("reported", "unit", "assay", "kit_lot", "lloq", "uloq")
SAMPLE_FIELDS = ["sampled_at", "knee", "volume_ml", "appearance", "processing", "storage"]


class SynovialBiomarkersForm(CrfForm):
    class Meta(CrfMeta):
        model = SynovialBiomarkers
        fields = [
            *SAMPLE_FIELDS,
            *(f"{a}_{f}" for a in biomarkers.ANALYTES for f in ANALYTE_FIELDS),
        ]
        widgets = {
            "sampled_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "knee": forms.RadioSelect,
            "appearance": forms.RadioSelect,
        }

    def clean_sampled_at(self):
        value = self.cleaned_data["sampled_at"]
        if value > timezone.now():
            raise forms.ValidationError("The sample cannot be taken in the future.")
        return value

    def clean(self):
        cleaned = super().clean()
        for analyte, name in biomarkers.ANALYTES.items():
            reported = cleaned.get(f"{analyte}_reported")
            if not reported:
                continue
            for part, label in (("assay", "assay"), ("kit_lot", "kit lot")):
                if not cleaned.get(f"{analyte}_{part}"):
                    self.add_error(f"{analyte}_{part}", f"Enter the {name} {label}.")
            try:
                biomarkers.interpret(
                    reported,
                    cleaned.get(f"{analyte}_unit") or biomarkers.DEFAULT_UNIT,
                    cleaned.get(f"{analyte}_lloq"),
                    cleaned.get(f"{analyte}_uloq"),
                )
            except biomarkers.ResultError as error:
                field = "uloq" if "LLOQ must be below" in str(error) else "reported"
                self.add_error(f"{analyte}_{field}", str(error))
        return cleaned

    def sections(self):
        sample = ("Sample", [self[name] for name in SAMPLE_FIELDS])
        results = [
            (name, [self[f"{analyte}_{f}"] for f in ANALYTE_FIELDS])
            for analyte, name in biomarkers.ANALYTES.items()
        ]
        return [sample, *results]
