from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from outcomes import biomarkers, imaging, vas, womac
from trialsite import protocol
from trialsite.choices import Knee, SynovialAppearance
from trialsite.crf.fields import MissingReasonField, PlausibleDateField, PlausibleDateTimeField
from trialsite.crf.models import Crf


class VasPain(Crf):
    """VAS pain of the knee (outcomes/vas.py)."""

    assessed_at = PlausibleDateTimeField(
        "date and time of assessment", past=True, after_consent=True
    )
    knee = models.CharField(max_length=1, choices=Knee.choices)
    score_mm = models.PositiveSmallIntegerField(
        "VAS pain (mm)",
        null=True,
        blank=True,
        validators=[
            MinValueValidator(vas.MIN_MM, vas.OUT_OF_RANGE),
            MaxValueValidator(vas.MAX_MM, vas.OUT_OF_RANGE),
        ],
        help_text="Millimetres from the left end (no pain) of the 100 mm line.",
    )
    score_mm_missing = MissingReasonField(of="score_mm", required=True)
    recall_period = models.CharField(max_length=40, default=protocol.VAS_RECALL_PERIOD)
    method = models.CharField(max_length=12, choices=vas.Method.choices)

    class Meta(Crf.Meta):
        verbose_name = "VAS pain"
        verbose_name_plural = "VAS pain"
        constraints = [
            *Crf.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(score_mm__gte=vas.MIN_MM, score_mm__lte=vas.MAX_MM),
                name="outcomes_vaspain_score_range",
            ),
        ]

    def __str__(self) -> str:
        if self.score_mm is None:
            return f"VAS {self.get_score_mm_missing_display().lower()} ({self.visit})"
        return f"VAS {self.score_mm} mm ({self.visit})"


def _womac_item(code: str):
    item = next(i for i in womac.ITEMS if i.code == code)
    return models.PositiveSmallIntegerField(
        f"{code}. {item.label}",
        null=True,
        blank=True,
        choices=[(v, f"{v} {label}") for v, label in womac.ANSWERS.items()],
    )


class Womac(Crf):
    """WOMAC LK3.1 questionnaire with its scores (outcomes/womac.py)."""

    knee = models.CharField("knee assessed", max_length=1, choices=Knee.choices)
    recall_period = models.CharField(max_length=40, default=protocol.WOMAC_RECALL_PERIOD)
    p1 = _womac_item("P1")
    p2 = _womac_item("P2")
    p3 = _womac_item("P3")
    p4 = _womac_item("P4")
    p5 = _womac_item("P5")
    s1 = _womac_item("S1")
    s2 = _womac_item("S2")
    f1 = _womac_item("F1")
    f2 = _womac_item("F2")
    f3 = _womac_item("F3")
    f4 = _womac_item("F4")
    f5 = _womac_item("F5")
    f6 = _womac_item("F6")
    f7 = _womac_item("F7")
    f8 = _womac_item("F8")
    f9 = _womac_item("F9")
    f10 = _womac_item("F10")
    f11 = _womac_item("F11")
    f12 = _womac_item("F12")
    f13 = _womac_item("F13")
    f14 = _womac_item("F14")
    f15 = _womac_item("F15")
    f16 = _womac_item("F16")
    f17 = _womac_item("F17")
    # Computed by outcomes.services.record_womac whenever the form is saved.
    pain = models.FloatField("pain (0-20)", null=True, editable=False)
    stiffness = models.FloatField("stiffness (0-8)", null=True, editable=False)
    function = models.FloatField("physical function (0-68)", null=True, editable=False)
    total = models.FloatField("total (0-96)", null=True, editable=False)
    pain_normalised = models.FloatField(
        "pain, normalised 0-100 (higher is worse)", null=True, editable=False
    )
    stiffness_normalised = models.FloatField(
        "stiffness, normalised 0-100 (higher is worse)", null=True, editable=False
    )
    function_normalised = models.FloatField(
        "physical function, normalised 0-100 (higher is worse)", null=True, editable=False
    )
    total_normalised = models.FloatField(
        "total, normalised 0-100 (higher is worse)", null=True, editable=False
    )
    imputed_items = models.JSONField("items imputed", default=list, editable=False)
    algorithm_version = models.CharField("scoring algorithm version", max_length=20, editable=False)

    class Meta(Crf.Meta):
        verbose_name = "WOMAC"
        verbose_name_plural = "WOMAC"

    def __str__(self) -> str:
        return f"WOMAC {self.visit}"

    def items(self) -> dict[str, int | None]:
        return {code: getattr(self, code.lower()) for code in womac.CODES}


class Assay(models.TextChoices):
    ELISA = "elisa", "ELISA"
    MULTIPLEX = "multiplex", "Multiplex bead assay"
    OTHER = "other", "Other"


def _reported(analyte: str):
    return models.CharField(
        f"{biomarkers.ANALYTES[analyte]} result as reported",
        max_length=20,
        blank=True,
        help_text="Exactly as the laboratory reported it, e.g. 12.5 or <3.9.",
    )


def _unit(analyte: str):
    units = [(u, u) for u in biomarkers.UNITS]
    return models.CharField(
        f"{biomarkers.ANALYTES[analyte]} unit",
        max_length=8,
        choices=units,
        default=biomarkers.DEFAULT_UNIT,
    )


def _limit(name: str):
    return models.DecimalField(
        name,
        max_digits=10,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )


class SynovialBiomarkers(Crf):
    """Synovial fluid sample and its IL-1β, TNF-α, IL-6 and MMP-13 results."""

    sampled_at = PlausibleDateTimeField(
        "date and time of aspiration", past=True, after_consent=True
    )
    knee = models.CharField(max_length=1, choices=Knee.choices)
    volume_ml = models.DecimalField(
        "volume aspirated (mL)",
        max_digits=5,
        decimal_places=1,
        validators=[MinValueValidator(0.1), MaxValueValidator(200)],
    )
    appearance = models.CharField(max_length=12, choices=SynovialAppearance.choices)
    processing = models.CharField(
        max_length=200, help_text="e.g. centrifuged 1000 × g, 10 min, 4 °C; hyaluronidase"
    )
    storage = models.CharField(max_length=100, help_text="e.g. −80 °C, box 3")
    il1b_reported = _reported("il1b")
    il1b_reported_missing = MissingReasonField(of="il1b_reported")
    il1b_unit = _unit("il1b")
    il1b_assay = models.CharField("IL-1β assay", max_length=12, choices=Assay.choices, blank=True)
    il1b_kit_lot = models.CharField("IL-1β kit lot", max_length=40, blank=True)
    il1b_lloq = _limit("IL-1β LLOQ")
    il1b_uloq = _limit("IL-1β ULOQ")
    tnfa_reported = _reported("tnfa")
    tnfa_reported_missing = MissingReasonField(of="tnfa_reported")
    tnfa_unit = _unit("tnfa")
    tnfa_assay = models.CharField("TNF-α assay", max_length=12, choices=Assay.choices, blank=True)
    tnfa_kit_lot = models.CharField("TNF-α kit lot", max_length=40, blank=True)
    tnfa_lloq = _limit("TNF-α LLOQ")
    tnfa_uloq = _limit("TNF-α ULOQ")
    il6_reported = _reported("il6")
    il6_reported_missing = MissingReasonField(of="il6_reported")
    il6_unit = _unit("il6")
    il6_assay = models.CharField("IL-6 assay", max_length=12, choices=Assay.choices, blank=True)
    il6_kit_lot = models.CharField("IL-6 kit lot", max_length=40, blank=True)
    il6_lloq = _limit("IL-6 LLOQ")
    il6_uloq = _limit("IL-6 ULOQ")
    mmp13_reported = _reported("mmp13")
    mmp13_reported_missing = MissingReasonField(of="mmp13_reported")
    mmp13_unit = _unit("mmp13")
    mmp13_assay = models.CharField("MMP-13 assay", max_length=12, choices=Assay.choices, blank=True)
    mmp13_kit_lot = models.CharField("MMP-13 kit lot", max_length=40, blank=True)
    mmp13_lloq = _limit("MMP-13 LLOQ")
    mmp13_uloq = _limit("MMP-13 ULOQ")
    # Derived by outcomes.services.record_biomarkers; the reported text above is kept as is.
    il1b_pg_ml = models.DecimalField(
        "IL-1β (pg/mL)", max_digits=14, decimal_places=3, null=True, editable=False
    )
    il1b_flag = models.CharField(
        "IL-1β below (BLQ) or above (ALQ) the limits", max_length=3, blank=True, editable=False
    )
    tnfa_pg_ml = models.DecimalField(
        "TNF-α (pg/mL)", max_digits=14, decimal_places=3, null=True, editable=False
    )
    tnfa_flag = models.CharField(
        "TNF-α below (BLQ) or above (ALQ) the limits", max_length=3, blank=True, editable=False
    )
    il6_pg_ml = models.DecimalField(
        "IL-6 (pg/mL)", max_digits=14, decimal_places=3, null=True, editable=False
    )
    il6_flag = models.CharField(
        "IL-6 below (BLQ) or above (ALQ) the limits", max_length=3, blank=True, editable=False
    )
    mmp13_pg_ml = models.DecimalField(
        "MMP-13 (pg/mL)", max_digits=14, decimal_places=3, null=True, editable=False
    )
    mmp13_flag = models.CharField(
        "MMP-13 below (BLQ) or above (ALQ) the limits", max_length=3, blank=True, editable=False
    )

    class Meta(Crf.Meta):
        verbose_name = "synovial biomarkers"
        verbose_name_plural = "synovial biomarkers"

    def __str__(self) -> str:
        return f"Synovial biomarkers {self.visit}"

    def results(self) -> list[dict]:
        """One row per analyte: as reported, converted to pg/mL, and flagged."""
        return [
            {
                "analyte": name,
                "reported": getattr(self, f"{a}_reported"),
                "unit": getattr(self, f"{a}_unit"),
                "pg_ml": getattr(self, f"{a}_pg_ml"),
                "flag": getattr(self, f"{a}_flag"),
            }
            for a, name in biomarkers.ANALYTES.items()
        ]


KL_GRADE_CHOICES = [
    (0, "0 normal"),
    (1, "1 doubtful"),
    (2, "2 minimal"),
    (3, "3 moderate"),
    (4, "4 severe"),
]


def _jsw(name: str):
    return models.DecimalField(
        name,
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(imaging.JSW_MAX_MM)],
    )


class Xray(Crf):
    """Knee radiograph read: KL grade and minimum joint space width per knee."""

    class View(models.TextChoices):
        FIXED_FLEXION_PA = "fixed_flexion_pa", "Fixed-flexion PA"
        SEMIFLEXED_MTP = "semiflexed_mtp", "Semi-flexed MTP"
        STANDING_AP = "standing_ap", "Standing AP, extended"
        OTHER = "other", "Other"

    taken_on = PlausibleDateField("date of radiograph", past=True, after_consent=True)
    view = models.CharField(max_length=20, choices=View.choices)
    kl_grade_left = models.PositiveSmallIntegerField(
        "KL grade, left knee", choices=KL_GRADE_CHOICES, null=True, blank=True
    )
    kl_grade_left_missing = MissingReasonField(of="kl_grade_left")
    jsw_medial_left_mm = _jsw("minimum medial JSW, left (mm)")
    jsw_medial_left_mm_missing = MissingReasonField(of="jsw_medial_left_mm")
    jsw_lateral_left_mm = _jsw("minimum lateral JSW, left (mm)")
    jsw_lateral_left_mm_missing = MissingReasonField(of="jsw_lateral_left_mm")
    kl_grade_right = models.PositiveSmallIntegerField(
        "KL grade, right knee", choices=KL_GRADE_CHOICES, null=True, blank=True
    )
    kl_grade_right_missing = MissingReasonField(of="kl_grade_right")
    jsw_medial_right_mm = _jsw("minimum medial JSW, right (mm)")
    jsw_medial_right_mm_missing = MissingReasonField(of="jsw_medial_right_mm")
    jsw_lateral_right_mm = _jsw("minimum lateral JSW, right (mm)")
    jsw_lateral_right_mm_missing = MissingReasonField(of="jsw_lateral_right_mm")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reader_blinded = models.BooleanField("reader blinded to arm and visit")

    class Meta(Crf.Meta):
        verbose_name = "X-ray"
        verbose_name_plural = "X-rays"

    def __str__(self) -> str:
        return f"X-ray {self.visit}"


class Mri(Crf):
    """Knee MRI read: cartilage per MOAKS subregion, optional thickness or T2."""

    scanned_on = PlausibleDateField("date of MRI", past=True, after_consent=True)
    knee = models.CharField(max_length=1, choices=Knee.choices)
    field_strength = models.CharField(
        "field strength", max_length=4, choices=[("1.5", "1.5 T"), ("3.0", "3.0 T")]
    )
    sequences = models.CharField(
        max_length=300, help_text="e.g. sagittal PD FS, coronal T1, 3D DESS"
    )
    # {subregion: {"area": 0-3, "full_thickness": 0-3, "thickness_mm": float|None,
    #              "t2_ms": float|None}} for each code of outcomes.imaging.SUBREGIONS.
    cartilage = models.JSONField(default=dict)
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reader_blinded = models.BooleanField("reader blinded to arm and visit")

    class Meta(Crf.Meta):
        verbose_name = "MRI"
        verbose_name_plural = "MRIs"

    def __str__(self) -> str:
        return f"MRI {self.visit}"
