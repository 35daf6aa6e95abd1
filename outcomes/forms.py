from django import forms
from django.utils import timezone

from outcomes import biomarkers, imaging, vas, womac
from outcomes.models import Mri, SynovialBiomarkers, VasPain, Womac, Xray
from trialsite import protocol
from trialsite.crf.forms import CrfForm, CrfMeta


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

    def soft_checks(self, cleaned: dict) -> dict[str, str]:
        if self.visit is None or self.visit.code == protocol.BASELINE_VISIT:
            return {}
        baseline = (
            VasPain.objects.filter(
                participant=self.visit.participant, visit__code=protocol.BASELINE_VISIT
            )
            .values_list("score_mm", flat=True)
            .first()
        )
        return vas.soft_checks(cleaned.get("score_mm"), baseline)

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
                code.lower(): forms.RadioSelect(attrs={"class": "womac-answer", "data-scale": ""})
                for code in womac.CODES
            },
        }

    def sections(self):
        """The knee, then (title, bound fields) for Pain, Stiffness and Physical function."""
        titles = {"pain": "Pain", "stiffness": "Stiffness", "function": "Physical function"}
        return [
            self.section("", ["knee"]),
            *(
                self.section(titles[name], [code.lower() for code in codes])
                for name, codes in womac.SUBSCALES.items()
            ),
        ]

    def soft_checks(self, cleaned: dict) -> dict[str, str]:
        """Marked complete with unanswered items: say which subscale is imputed and which
        cannot be scored (womac.missing_summary, the scoring's own rule)."""
        if not cleaned.get("mark_complete"):
            return {}
        items = {code: cleaned.get(code.lower()) for code in womac.CODES}
        missing = [code for code, value in items.items() if value is None]
        if not missing:
            return {}
        return {missing[0].lower(): womac.missing_summary(items)}


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
        sample = self.section("Sample", SAMPLE_FIELDS)
        results = [
            self.section(name, [f"{analyte}_{f}" for f in ANALYTE_FIELDS])
            for analyte, name in biomarkers.ANALYTES.items()
        ]
        return [sample, *results]


DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _not_in_future(form, value):
    """Not after today at the participant's site (Site.today)."""
    today = form.participant.site.today() if form.participant else timezone.localdate()
    if value and value > today:
        raise forms.ValidationError("This date cannot be in the future.")
    return value


def _readers(form):
    """Readers are users of the participant's site."""
    if form.visit is not None:
        form.fields["reader"].queryset = form.fields["reader"].queryset.filter(
            sites=form.visit.participant.site, is_active=True
        )


class XrayForm(CrfForm):
    class Meta(CrfMeta):
        model = Xray
        fields = [
            "taken_on",
            "view",
            "kl_grade_left",
            "jsw_medial_left_mm",
            "jsw_lateral_left_mm",
            "kl_grade_right",
            "jsw_medial_right_mm",
            "jsw_lateral_right_mm",
            "reader",
            "reader_blinded",
        ]
        widgets = {
            "taken_on": DATE,
            "view": forms.RadioSelect,
            "kl_grade_left": forms.RadioSelect,
            "kl_grade_right": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _readers(self)

    def clean_taken_on(self):
        return _not_in_future(self, self.cleaned_data["taken_on"])

    def clean(self):
        cleaned = super().clean()
        read = False
        for side in ("left", "right"):
            names = [f"kl_grade_{side}", f"jsw_medial_{side}_mm", f"jsw_lateral_{side}_mm"]
            given = [cleaned.get(n) is not None for n in names]
            if any(given) and not all(given):
                for name, present in zip(names, given, strict=True):
                    if not present:
                        self.add_error(name, f"Complete the {side} knee, or leave it all empty.")
            read = read or all(given)
        if not read and not self.errors:
            self.add_error("kl_grade_left", "Read at least one knee.")
        return cleaned


class MriForm(CrfForm):
    class Meta(CrfMeta):
        model = Mri
        fields = ["scanned_on", "knee", "field_strength", "sequences", "reader", "reader_blinded"]
        widgets = {
            "scanned_on": DATE,
            "knee": forms.RadioSelect,
            "field_strength": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _readers(self)
        stored = self.instance.cartilage if self.instance.pk else {}
        for code, label in imaging.SUBREGIONS.items():
            s = stored.get(code, {})
            self.fields[f"{code}_area"] = forms.TypedChoiceField(
                label=f"{label}: {imaging.SUBREGION_PARTS['area']}",
                choices=list(imaging.AREA_GRADES.items()),
                coerce=int,
                widget=forms.RadioSelect,
                initial=s.get("area"),
            )
            self.fields[f"{code}_full_thickness"] = forms.TypedChoiceField(
                label=f"{label}: {imaging.SUBREGION_PARTS['full_thickness']}",
                choices=list(imaging.FULL_THICKNESS_GRADES.items()),
                coerce=int,
                widget=forms.RadioSelect,
                initial=s.get("full_thickness"),
            )
            self.fields[f"{code}_thickness_mm"] = forms.DecimalField(
                label=f"{label}: {imaging.SUBREGION_PARTS['thickness_mm']}, optional",
                required=False,
                min_value=0,
                max_value=10,
                decimal_places=2,
                initial=s.get("thickness_mm"),
            )
            self.fields[f"{code}_t2_ms"] = forms.DecimalField(
                label=f"{label}: {imaging.SUBREGION_PARTS['t2_ms']}, optional",
                required=False,
                min_value=0,
                max_value=200,
                decimal_places=1,
                initial=s.get("t2_ms"),
            )

    def clean_scanned_on(self):
        return _not_in_future(self, self.cleaned_data["scanned_on"])

    def cartilage(self) -> dict:
        c = self.cleaned_data
        return {
            code: {
                "area": c.get(f"{code}_area"),
                "full_thickness": c.get(f"{code}_full_thickness"),
                "thickness_mm": _float(c.get(f"{code}_thickness_mm")),
                "t2_ms": _float(c.get(f"{code}_t2_ms")),
            }
            for code in imaging.SUBREGIONS
        }

    def clean(self):
        cleaned = super().clean()
        for field, message in imaging.check_cartilage(self.cartilage()).items():
            self.add_error(field, message)
        return cleaned

    def data_values(self) -> dict:
        return {**super().data_values(), "cartilage": self.cartilage()}

    def sections(self):
        header = self.section("Scan", self._meta.fields)
        regions = [
            self.section(label, [f"{code}_{part}" for part in imaging.SUBREGION_PARTS])
            for code, label in imaging.SUBREGIONS.items()
        ]
        return [header, *regions]


def _float(value):
    return None if value is None else float(value)
