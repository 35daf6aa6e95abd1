"""Queries per page at 5 and at 500 participants: the same number at both sizes for every page
type, at most 12 for the participant page, the dashboard and a CRF page, and at most 15 for a
CRF save, new or changed, audit included (issue 18, point 2). The study is grown in bulk
(helpers.synthetic_study), audit triggers firing, and committed, so that the tables' statistics
can be brought up to date as autovacuum would (the plans the counts come from are those of a
study whose statistics describe it; inside a test's transaction they described whatever
earlier tests had left, and one bulk update took 45 s)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Participant
from monitoring.models import DataQuery
from monitoring.queries import raise_query
from outcomes.models import VasPain
from safety import services as safety_services
from tests import factories, helpers
from trialsite import roles

pytestmark = pytest.mark.django_db(transaction=True)

# At most this many queries (None: only the same number at both sizes).
PAGES = {
    "participant_page": ("monitor", 12),
    "dashboard": ("monitor", 12),
    "crf_get": ("coordinator", 12),
    "crf_save": ("coordinator", 15),
    "crf_update": ("coordinator", 15),  # the form crf_save saved, changed
    "home_coordinator": ("coordinator", None),
    "home_investigator": ("investigator", None),
    "home_monitor": ("monitor", None),
    "home_data_manager": ("data_manager", None),
    "data_quality": ("data_manager", None),
    "screening_log": ("coordinator", None),
    "participant_list": ("coordinator", None),
    "ae_listing": ("investigator", None),
    "review_queue": ("investigator", None),
    "query_list": ("monitor", None),
    "reverify_list": ("monitor", None),
    "participant_audit": ("monitor", None),
    "visit_calendar": ("coordinator", None),
    "deviation_listing": ("monitor", None),
}


@pytest.fixture
def staff(lahore, islamabad):
    both = [lahore, islamabad]
    return {
        role: factories.UserFactory(username=f"{role}-both", role=group, sites=both)
        for role, group in (
            ("coordinator", roles.COORDINATOR),
            ("investigator", roles.INVESTIGATOR),
            ("monitor", roles.MONITOR),
            ("data_manager", roles.DATA_MANAGER),
        )
    }


def grow(site, staff, count: int):
    """`count` participants at `site` with VAS and WOMAC, one of them with an adverse event and
    an open query; and one with nothing entered yet, for the CRF save."""
    coordinator = staff["coordinator"]
    helpers.synthetic_study(site, coordinator, count)
    entered = VasPain.objects.filter(participant__site=site).select_related("visit").first()
    helpers.add_medication(entered.participant, coordinator)
    safety_services.report_adverse_event(
        participant=entered.participant, data=helpers.ae_answers(), by=coordinator
    )
    raise_query(crf=entered, field="score_mm", question="Check the ruler", by=staff["monitor"])
    fresh = factories.participant_with_visits(
        site=site, by=coordinator, randomized_at=timezone.now() - timedelta(days=30)
    )  # M1 (day 30 ± 7) is in its window today
    return entered, fresh


def url_of(page: str, entered, fresh) -> tuple[str, dict | None]:
    if page == "participant_page":
        return reverse("participant_detail", args=[entered.participant_id]), None
    if page == "participant_audit":
        return reverse("participant_audit", args=[entered.participant_id]), None
    if page == "crf_get":
        return helpers.vas_url(entered.visit), None
    if page in ("crf_save", "crf_update"):
        now = helpers.earlier_today()
        new = page == "crf_save"
        return helpers.vas_url(helpers.visit(fresh, "M1")), helpers.vas_post(
            assessed_at=f"{now:%Y-%m-%dT%H:%M}",
            version=0 if new else 1,
            score_mm="40" if new else "41",
        )
    if page.startswith("home_"):
        return reverse("home"), None
    return reverse(page), None


def count_queries(client, user, page: str, entered, fresh) -> int:
    url, post = url_of(page, entered, fresh)
    client.force_login(user)
    client.get(reverse("home"))  # the session's first request stamps it
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, post) if post else client.get(url)
    assert response.status_code == (302 if post else 200), page
    return len(queries)


def counts_of_every_page(client, staff, entered, fresh) -> dict[str, int]:
    return {
        page: count_queries(client, staff[role], page, entered, fresh)
        for page, (role, _) in PAGES.items()
    }


def test_every_page_type_costs_as_many_queries_at_500_participants_as_at_5(
    client, staff, lahore, islamabad, owner_connection
):
    def analyze():
        owner_connection.execute("ANALYZE")
        owner_connection.commit()

    grown = [grow(lahore, staff, 5)]
    analyze()  # the large study is grown with plans made for a study, not for earlier tests
    grown.append(grow(islamabad, staff, 500))
    analyze()
    small = counts_of_every_page(client, staff, *grown[0])
    large = counts_of_every_page(client, staff, *grown[1])
    assert DataQuery.objects.count() == 2 and Participant.objects.count() == 507
    changed = [VasPain.objects.get(visit=helpers.visit(fresh, "M1")) for _, fresh in grown]
    assert [(vas.version, vas.score_mm) for vas in changed] == [(2, 41), (2, 41)]
    grew = {page: (small[page], large[page]) for page in PAGES if large[page] != small[page]}
    assert not grew, f"queries at 5 and at 500 participants: {grew}"
    over = {
        page: large[page]
        for page, (_, most) in PAGES.items()
        if most is not None and large[page] > most
    }
    assert not over, f"over the target: {over}"
