from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from outcomes import vas, womac
from trialsite import protocol
from trialsite.choices import Knee
from trialsite.crf import Crf


class VasPain(Crf):
    crf_name = "vas_pain"
    crf_title = "VAS pain"

    assessed_at = models.DateTimeField("date and time of assessment")
    knee = models.CharField(max_length=1, choices=Knee.choices)
    score_mm = models.PositiveSmallIntegerField(
        "VAS pain (mm)",
        validators=[
            MinValueValidator(vas.MIN_MM, vas.OUT_OF_RANGE),
            MaxValueValidator(vas.MAX_MM, vas.OUT_OF_RANGE),
        ],
        help_text="Millimetres from the left end (no pain) of the 100 mm line.",
    )
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

    crf_name = "womac"
    crf_title = "WOMAC"

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
    pain = models.FloatField(null=True, editable=False)
    stiffness = models.FloatField(null=True, editable=False)
    function = models.FloatField(null=True, editable=False)
    total = models.FloatField(null=True, editable=False)
    pain_normalised = models.FloatField(null=True, editable=False)
    stiffness_normalised = models.FloatField(null=True, editable=False)
    function_normalised = models.FloatField(null=True, editable=False)
    total_normalised = models.FloatField(null=True, editable=False)
    imputed_items = models.JSONField(default=list, editable=False)
    algorithm_version = models.CharField(max_length=20, editable=False)

    class Meta(Crf.Meta):
        verbose_name = "WOMAC"
        verbose_name_plural = "WOMAC"

    def __str__(self) -> str:
        return f"WOMAC {self.visit}"

    def items(self) -> dict[str, int | None]:
        return {code: getattr(self, code.lower()) for code in womac.CODES}
