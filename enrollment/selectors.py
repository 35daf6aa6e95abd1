"""Read-only queries for enrollment pages."""

from dataclasses import dataclass

from django.db.models import CharField, Count, Exists, F, Func, OuterRef, Q, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from enrollment.eligibility import CRITERIA
from enrollment.models import Arm, Consent, Participant, Screening
from trialsite import protocol


def visible_participant_or_404(user, pk: int, related: tuple[str, ...] = ()) -> Participant:
    """The participant, if the user's sites include theirs; otherwise 404 (no hint it exists);
    read with the `related` (select_related) and their site."""
    return get_object_or_404(
        Participant.objects.visible_to(user).select_related("site", *related), pk=pk
    )


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
    """CONSORT enrolment counts over the given screenings, counted in the database (three
    queries, whatever the number of screenings). Each screening's participant and consent are
    looked up by their unique index on the screening, so the work follows the screenings
    counted, not the whole study (joins made PostgreSQL read every participant and consent)."""
    screenings = screenings.order_by()
    randomized = Exists(Participant.objects.filter(screening=OuterRef("pk")))
    withdrawn = Exists(Consent.objects.filter(screening=OuterRef("pk"), withdrawn_on__isnull=False))
    totals = screenings.aggregate(
        assessed=Count("pk"),
        not_eligible=Count("pk", filter=Q(eligible=False)),
        eligible_not_randomized=Count("pk", filter=Q(eligible=True) & ~Q(randomized)),
        withdrawn=Count("pk", filter=Q(randomized) & Q(withdrawn)),
    )
    arm = Participant.objects.filter(screening=OuterRef("pk")).values("arm")[:1]
    arms = dict(screenings.annotate(arm=Subquery(arm)).values_list("arm").annotate(n=Count("pk")))
    arms.pop(None, None)  # not randomized
    by_criterion = dict(
        screenings.filter(eligible=False)
        .annotate(
            code=Func(
                F("failed_criteria"), function="jsonb_array_elements_text", output_field=CharField()
            )
        )
        .values_list("code")
        .annotate(n=Count("pk"))
    )
    return ConsortCounts(
        assessed=totals["assessed"],
        excluded_by_criterion=[
            (label, by_criterion[code]) for code, label in CRITERIA.items() if code in by_criterion
        ],
        not_eligible=totals["not_eligible"],
        eligible_not_randomized=totals["eligible_not_randomized"],
        randomized=sum(arms.values()),
        randomized_by_arm=[(f"Arm {code}", arms.get(code, 0)) for code in Arm.values],
        withdrawn=totals["withdrawn"],
    )


def enrollment_progress() -> dict:
    """Study-wide randomized count against the target (no participant data)."""
    return {
        "randomized": Participant.objects.count(),
        "target": protocol.TARGET_ENROLLMENT,
    }
