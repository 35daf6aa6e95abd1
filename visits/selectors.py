"""Visits as the work lists read them: overdue, and due soon, at the user's sites."""

from datetime import timedelta

from django.apps import apps
from django.db.models import Exists, OuterRef, Q, QuerySet

from trialsite import protocol
from visits import services
from visits.models import Visit


def in_follow_up(path: str = "") -> Q:
    """Participants (reached by `path`, e.g. "participant__") still in follow-up: consent not
    withdrawn and no end of study. Visits, reminders and due lists stop at either.

    Said with NOT EXISTS rather than outer joins, so that PostgreSQL weighs them as anti-joins:
    an outer join filtered on NULL was taken to leave a handful of a site's participants, and
    their visits were then read participant by participant. (Enrollment is a layer above:
    its models are named, not imported.)"""
    EndOfStudy = apps.get_model("enrollment", "EndOfStudy")  # noqa: N806
    Consent = apps.get_model("enrollment", "Consent")  # noqa: N806
    return ~Exists(EndOfStudy.objects.filter(participant=OuterRef(f"{path}pk"))) & ~Exists(
        Consent.objects.filter(screening=OuterRef(f"{path}screening"), withdrawn_on__isnull=False)
    )


def due_visits(user, days: int = protocol.UPCOMING_VISIT_DAYS) -> tuple[QuerySet, QuerySet, object]:
    """(overdue, upcoming, today): visits at the user's sites not yet held nor missed, of
    participants still consenting, whose window closed before today (overdue) or opens within
    `days` (upcoming), by the day their window closes (DUE_ORDER); today is the day at the
    user's first site."""
    site = user.sites.order_by("pk").first()
    if site is None:
        return Visit.objects.none(), Visit.objects.none(), None
    today = services.site_today(site)
    visits = (
        Visit.objects.filter(
            in_follow_up("participant__"),
            participant__site_id__in=user.site_ids,
            visit_date__isnull=True,
            missed_reason="",
            target_date__isnull=False,
        )
        .select_related("participant", "participant__site")
        .order_by(*DUE_ORDER)
    )
    # A window opens before it closes (a CHECK): the first condition lets the index of pending
    # visits (visits_visit_pending) read only those whose window has opened.
    overdue = visits.filter(window_opens__lt=today, window_closes__lt=today)
    upcoming = visits.filter(
        window_closes__gte=today, window_opens__lte=today + timedelta(days=days)
    )
    return overdue, upcoming, today


DUE_ORDER = ("window_closes", "participant__participant_id", "sequence")
