"""Read-only queries for enrollment pages."""

from collections import Counter
from dataclasses import dataclass

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from enrollment.eligibility import CRITERIA
from enrollment.models import Arm, Participant, Screening
from trialsite import protocol


def visible_participant_or_404(user, pk: int) -> Participant:
    """The participant, if the user's sites include theirs; otherwise 404 (no hint it exists)."""
    return get_object_or_404(Participant.objects.visible_to(user), pk=pk)


@dataclass(frozen=True)
class ConsortCounts:
    assessed: int
    excluded_by_criterion: list[tuple[str, int]]  # (criterion label, candidates failing it)
    not_eligible: int
    eligible_not_randomized: int
    randomized: int
    randomized_by_arm: list[tuple[str, int]]
    withdrawn: int


def consort_counts(screenings: QuerySet[Screening]) -> ConsortCounts:
    """CONSORT enrolment counts over the given screenings (one query)."""
    rows = list(
        screenings.values_list(
            "eligible", "failed_criteria", "participant__arm", "consent__withdrawn_on"
        )
    )
    by_criterion: Counter[str] = Counter()
    for eligible, failed, _, _ in rows:
        if not eligible:
            by_criterion.update(set(failed))
    arms = Counter(arm for _, _, arm, _ in rows if arm)
    randomized = sum(arms.values())
    return ConsortCounts(
        assessed=len(rows),
        excluded_by_criterion=[
            (label, by_criterion[code]) for code, label in CRITERIA.items() if by_criterion[code]
        ],
        not_eligible=sum(1 for eligible, *_ in rows if not eligible),
        eligible_not_randomized=sum(1 for e, _, arm, _ in rows if e and not arm),
        randomized=randomized,
        randomized_by_arm=[(f"Arm {code}", arms[code]) for code in Arm.values],
        withdrawn=sum(1 for _, _, arm, withdrawn in rows if arm and withdrawn),
    )


def enrollment_progress() -> dict:
    """Study-wide randomized count against the target (no participant data)."""
    return {
        "randomized": Participant.objects.count(),
        "target": protocol.TARGET_ENROLLMENT,
    }
