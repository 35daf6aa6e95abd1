"""Visits of a participant, one per entry of protocol.VISIT_SCHEDULE."""

from django.db import models

from trialsite import protocol
from trialsite.crf import Audited

VISIT_DEFS = {v.code: v for v in protocol.VISIT_SCHEDULE}


class Visit(Audited):
    participant = models.ForeignKey(
        "enrollment.Participant", on_delete=models.PROTECT, related_name="visits"
    )
    code = models.CharField(
        max_length=8, choices=[(v.code, v.label) for v in protocol.VISIT_SCHEDULE]
    )
    visit_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["participant", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "code"], name="visits_visit_one_per_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.code}"

    @property
    def definition(self) -> protocol.VisitDef:
        return VISIT_DEFS[self.code]

    @property
    def label(self) -> str:
        return self.definition.label
