"""The participants × visits dashboard: a status for every CRF due, query badges, pagination."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring import queries, signatures, verification
from outcomes.models import VasPain
from tests import factories
from tests.helpers import change_vas, form_url, womac_post
from tests.helpers import vas_post as post_data
from trialsite.crf import locking

pytestmark = pytest.mark.django_db


def cells_of(response, participant, code):
    codes = response.context["codes"]
    for row in response.context["rows"]:
        if row.participant == participant:
            return {c.title: c for c in row.visits[codes.index(code)]}
    raise AssertionError("participant not shown")


def test_statuses_and_query_badges(client, monitor, data_manager, coordinator, vas):
    participant = vas.participant
    client.force_login(monitor)
    m1 = cells_of(client.get(reverse("dashboard")), participant, "M1")
    assert m1["VAS pain"].status == "complete" and m1["WOMAC"].status == "not_started"
    assert m1["VAS pain"].url.endswith(f"/visits/{vas.visit_id}/forms/vas-pain/")

    verification.verify_crf(crf=vas, by=monitor)
    queries.raise_query(crf=vas, field="score_mm", question="?", by=monitor)
    m1 = cells_of(client.get(reverse("dashboard")), participant, "M1")
    assert (m1["VAS pain"].status, m1["VAS pain"].open_queries) == ("verified", 1)

    change_vas(vas, coordinator)
    m1 = cells_of(client.get(reverse("dashboard")), participant, "M1")
    assert m1["VAS pain"].status == "complete"  # changed since verification

    locking.lock(
        reason="database lock for analysis", scope="visit", visit=vas.visit, by=data_manager
    )
    m1 = cells_of(client.get(reverse("dashboard")), participant, "M1")
    assert m1["VAS pain"].status == "locked"


def test_the_dashboard_is_paginated_and_its_queries_do_not_grow(
    client, monitor, coordinator, lahore
):
    for _ in range(3):
        factories.participant_with_visits(site=lahore, by=coordinator)
    client.force_login(monitor)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("dashboard"))
    for _ in range(27):
        factories.participant_with_visits(site=lahore, by=coordinator)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("dashboard"))
    assert len(response.context["rows"]) == 25
    assert response.context["page"].paginator.num_pages == 2
    assert len(many) == len(few)


def test_other_sites_are_not_shown(client, outsider, vas):
    client.force_login(outsider)
    assert client.get(reverse("dashboard")).context["rows"] == []


def test_save_and_next_form_goes_to_the_next_crf_of_the_visit(client, coordinator, arm_a):
    m1 = arm_a.visits.get(code="M1")
    client.force_login(coordinator)
    # M1's window opens in a month: each form is confirmed, and a deviation recorded.
    confirm = {"save_next": "", "confirm_unusual": "on"}
    response = client.post(form_url("vas_pain", visit=m1), {**post_data(), **confirm})
    assert VasPain.objects.filter(visit=m1).exists()
    assert response["Location"] == form_url("womac", visit=m1)
    # WOMAC is the last form of M1: next goes back to the participant.
    response = client.post(form_url("womac", visit=m1), {**womac_post(), **confirm})
    assert response["Location"] == reverse("participant_detail", args=[arm_a.pk])


def test_a_signed_visit_shows_as_signed_until_a_form_changes(
    client, monitor, investigator, coordinator, vas
):
    signatures.sign(
        participant=vas.participant, visit=vas.visit, password=factories.PASSWORD, by=investigator
    )
    client.force_login(monitor)
    m1 = cells_of(client.get(reverse("dashboard")), vas.participant, "M1")
    assert m1["VAS pain"].status == "signed"
    change_vas(vas, coordinator)
    m1 = cells_of(client.get(reverse("dashboard")), vas.participant, "M1")
    assert m1["VAS pain"].status == "complete"
