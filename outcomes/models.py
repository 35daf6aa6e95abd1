from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from outcomes import vas
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
