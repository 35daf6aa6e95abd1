from django import forms
from django.utils import timezone

from outcomes import vas, womac
from outcomes.models import VasPain, Womac
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
