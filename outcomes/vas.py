"""VAS pain: a 100 mm line from "no pain" (0) to "worst pain imaginable" (100).

The score is the distance in whole millimetres from the left end (domain.md §2). The recall
period is a protocol setting (protocol.VAS_RECALL_PERIOD).
"""

from django.db import models

MIN_MM = 0
MAX_MM = 100
OUT_OF_RANGE = f"Enter whole millimetres from {MIN_MM} to {MAX_MM}."


class Method(models.TextChoices):
    PAPER = "paper", "Paper line, measured with a ruler"
    ELECTRONIC = "electronic", "Electronic slider"


# Soft check: a change from baseline larger than this is possible but worth a second look.
SOFT_MAX_CHANGE_MM = 50


def soft_checks(score: int | None, baseline: int | None) -> dict[str, str]:
    """Unusual but admissible values: saved after the user confirms, with a query opened."""
    if score is None or baseline is None or abs(score - baseline) <= SOFT_MAX_CHANGE_MM:
        return {}
    return {
        "score_mm": f"{score} mm differs from the baseline {baseline} mm by more than "
        f"{SOFT_MAX_CHANGE_MM} mm: check the measurement."
    }


def is_valid_score(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and MIN_MM <= value <= MAX_MM
