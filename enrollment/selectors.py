"""Read-only queries for enrollment pages."""

from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import CharField, Count, F, Func, OuterRef, QuerySet, Subquery
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
    """CONSORT enrolment counts over the given screenings, counted in the database (two
    queries, whatever the number of screenings). Each screening's participant and consent are
    looked up once, by their unique index on the screening, so the work follows the screenings
    counted, not the whole study (joins made PostgreSQL read every participant and consent)."""
    screenings = screenings.order_by()
    # Each screening's arm (None: not randomized) and whether consent was withdrawn, looked up
    # once (OFFSET 0 keeps PostgreSQL from copying the lookups into each count), then counted
    # by arm.
    # (Scalar lookups: for an EXISTS, PostgreSQL may read every withdrawn consent of the study.)
    looked_up = screenings.annotate(
        arm=Subquery(
            Participant.objects.filter(screening=OuterRef("pk")).order_by().values("arm")[:1]
        ),
        withdrawn_on=Subquery(
            Consent.objects.filter(screening=OuterRef("pk")).order_by().values("withdrawn_on")[:1]
        ),
    ).values_list("eligible", "arm", "withdrawn_on")
    counts = (
        "arm, COUNT(*), COUNT(*) FILTER (WHERE NOT eligible),"
        " COUNT(*) FILTER (WHERE eligible AND arm IS NULL),"
        " COUNT(*) FILTER (WHERE arm IS NOT NULL AND withdrawn_on IS NOT NULL)"
    )
    try:
        sql, params = looked_up.query.sql_with_params()
    except EmptyResultSet:  # a query known to find nothing (none())
        by_arm = []
    else:
        # The inner SQL is Django's, with its parameters apart.
        query = f"SELECT {counts} FROM ({sql} OFFSET 0) AS screening GROUP BY arm"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            by_arm = cursor.fetchall()
    totals = [sum(row[n] for row in by_arm) for n in range(1, 5)]
    arms = {arm: n for arm, n, *_ in by_arm if arm is not None}
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
    assessed, not_eligible, eligible_not_randomized, withdrawn = totals
    return ConsortCounts(
        assessed=assessed,
        excluded_by_criterion=[
            (label, by_criterion[code]) for code, label in CRITERIA.items() if code in by_criterion
        ],
        not_eligible=not_eligible,
        eligible_not_randomized=eligible_not_randomized,
        randomized=sum(arms.values()),
        randomized_by_arm=[(f"Arm {code}", arms.get(code, 0)) for code in Arm.values],
        withdrawn=withdrawn,
    )


def enrollment_progress() -> dict:
    """Study-wide randomized count against the target (no participant data)."""
    return {
        "randomized": Participant.objects.count(),
        "target": protocol.TARGET_ENROLLMENT,
    }
