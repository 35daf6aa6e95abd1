"""The participants × visits dashboard: a status per visit from its forms (or per form, when
filtered by one), query badges, filters, pagination, a layout that fits the screen."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring import dashboard, queries, signatures, verification
from outcomes.models import VasPain
from safety import services as safety_services
from tests import factories, helpers
from tests.helpers import add_rescue_analgesia, add_womac, change_vas, form_url, womac_post
from tests.helpers import vas_post as post_data
from trialsite import roles
from trialsite.crf import locking

pytestmark = pytest.mark.django_db


def cell_of(client, participant, code, **filters):
    response = client.get(reverse("dashboard"), filters)
    for row in response.context["rows"]:
        if row.participant == participant:
            return row.visits[dashboard.SCHEDULE.index(code)]
    raise AssertionError("participant not shown")


def test_a_visit_shows_the_status_of_its_forms_and_a_form_filter_shows_the_form(
    client, monitor, data_manager, coordinator, vas
):
    participant = vas.participant
    client.force_login(monitor)
    m1 = cell_of(client, participant, "M1")  # VAS complete, WOMAC not started
    assert (m1.status, m1.url) == (
        "incomplete",
        f"/participants/{participant.pk}/visits/{vas.visit_id}/",
    )
    assert m1.title == "M1: Incomplete (1 of 3 forms complete)"
    assert cell_of(client, participant, "M1", form="vas_pain").status == "complete"
    assert cell_of(client, participant, "M1", form="womac").status == "not_started"

    verification.verify_crf(crf=vas, by=monitor)
    queries.raise_query(crf=vas, field="score_mm", question="?", by=monitor)
    vas_cell = cell_of(client, participant, "M1", form="vas_pain")
    assert (vas_cell.status, vas_cell.open_queries) == ("verified", 1)
    assert cell_of(client, participant, "M1").open_queries == 1

    change_vas(vas, coordinator)
    assert cell_of(client, participant, "M1", form="vas_pain").status == "complete"

    locking.lock(
        reason="database lock for analysis", scope="visit", visit=vas.visit, by=data_manager
    )
    assert cell_of(client, participant, "M1", form="vas_pain").status == "locked"


def test_a_form_of_one_arm_is_due_only_at_that_arms_visits(client, coordinator, arm_a, arm_b):
    """PRGF preparation is collected in arm B only: on the same page, an arm A participant's
    M0 does not count it and, filtered by it, shows no cell; an arm B participant's does."""
    client.force_login(coordinator)
    assert cell_of(client, arm_a, "M0", form="prgf_preparation") is None
    assert cell_of(client, arm_b, "M0", form="prgf_preparation").status == "not_started"
    due = [int(cell_of(client, p, "M0").title.split(" of ")[1].split()[0]) for p in (arm_a, arm_b)]
    assert due[1] == due[0] + 1, due


def test_a_visit_is_as_far_as_its_least_advanced_form(client, monitor, coordinator, vas):
    participant = vas.participant
    womac = add_womac(participant, "M1", 2, coordinator)
    client.force_login(monitor)
    assert cell_of(client, participant, "M1").status == "incomplete"  # rescue analgesia
    rescue = add_rescue_analgesia(participant, "M1", 0, coordinator)
    assert cell_of(client, participant, "M1").status == "complete"
    verification.verify_crf(crf=vas, by=monitor)
    verification.verify_crf(crf=womac, by=monitor)
    assert cell_of(client, participant, "M1").status == "complete"  # one is not verified
    verification.verify_crf(crf=rescue, by=monitor)
    cell = cell_of(client, participant, "M1")
    assert (cell.status, cell.title) == ("verified", "M1: Source-verified (3 of 3 forms complete)")
    page = client.get(reverse("visit_detail", args=[participant.pk, vas.visit_id]))
    assert page.context["visit_cell"].status == "verified"  # the visit page says the same


def test_the_dashboard_is_paginated_and_its_queries_do_not_grow(
    client, monitor, coordinator, lahore
):
    for _ in range(3):
        factories.participant_with_visits(site=lahore, by=coordinator)
    client.force_login(monitor)
    client.get(reverse("dashboard"))  # the session's first request stamps it
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("dashboard"))
    for _ in range(27):
        factories.participant_with_visits(site=lahore, by=coordinator)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("dashboard"))
    assert len(response.context["rows"]) == 25
    assert len(many) == len(few)
    second = client.get(reverse("dashboard") + "?" + response.context["page"].next_query)
    assert len(second.context["rows"]) == 5 and second.context["page"].next_query is None


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
    response = client.post(form_url("womac", visit=m1), {**womac_post(), **confirm})
    assert response["Location"] == form_url("rescue_analgesia", visit=m1)
    # Rescue analgesia is the last form of M1: next goes back to the participant.
    rescue = {"version": 0, "tablets_per_week": "0", **confirm}
    response = client.post(form_url("rescue_analgesia", visit=m1), rescue)
    assert response["Location"] == reverse("participant_detail", args=[arm_a.pk])


def test_a_signed_visit_shows_as_signed_until_a_form_changes(
    client, monitor, investigator, coordinator, vas
):
    signatures.sign(
        participant=vas.participant, visit=vas.visit, password=factories.PASSWORD, by=investigator
    )
    client.force_login(monitor)
    assert cell_of(client, vas.participant, "M1", form="vas_pain").status == "signed"
    change_vas(vas, coordinator)
    assert cell_of(client, vas.participant, "M1", form="vas_pain").status == "complete"


def test_the_dashboard_filters_by_id_status_visit_form_and_site(
    client, monitor, coordinator, lahore, islamabad
):
    monitor.sites.add(islamabad)
    first = factories.participant_with_visits(site=lahore, by=coordinator)
    second = factories.participant_with_visits(site=lahore, by=coordinator)
    third = factories.participant_with_visits(site=islamabad, by=coordinator)
    helpers.add_vas(second, "M0", 40, coordinator)
    client.force_login(monitor)

    def shown(**filters):
        response = client.get(reverse("dashboard"), filters)
        return [row.participant for row in response.context["rows"]]

    assert shown() == [first, second, third]
    assert shown(q=second.participant_id) == [second]
    assert shown(site=str(islamabad.pk)) == [third]
    assert shown(status="incomplete", visit="M0") == [second]  # VAS entered, the rest not
    assert shown(status="complete", visit="M0", form="vas_pain") == [second]
    assert shown(status="not_started", visit="M0", form="vas_pain") == [first, third]
    response = client.get(reverse("dashboard"), {"visit": "M0"})
    assert response.context["codes"] == ["M0"]  # one visit: one column
    (row, cells) = response.context["table"][0]
    assert len(cells) == 1 and cells[0].url.endswith(f"/visits/{first.visits.get(code='M0').pk}/")


def test_the_adverse_events_column_links_to_the_participants_events(
    client, monitor, coordinator, arm_a
):
    safety_services.report_adverse_event(
        participant=arm_a, data=helpers.ae_answers(), by=coordinator
    )
    client.force_login(monitor)
    response = client.get(reverse("dashboard"))
    log, medications, deviations = response.context["rows"][0].logs
    assert (log.title, log.count) == ("Adverse events", 1)
    assert (medications.count, deviations.count) == (0, 0)
    assert log.url == f"/participants/{arm_a.pk}/#adverse-event"
    page = client.get(log.url).content.decode()
    assert 'id="adverse-event"' in page and helpers.ae_answers()["verbatim_term"] in page


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_fits_a_laptop_and_shows_25_participants_on_a_full_hd_screen(
    live_server, page
):
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    monitor = factories.UserFactory(username="monitor", role=roles.MONITOR, sites=[site])
    for _ in range(25):
        factories.participant_with_visits(site=site, by=monitor)
    helpers.log_in(page, live_server.url, "monitor")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server.url}{reverse('dashboard')}")
    width = page.evaluate("document.documentElement.scrollWidth")
    m12 = page.get_by_role("columnheader", name="M12").bounding_box()
    assert width <= 1366 and m12["x"] + m12["width"] <= 1366
    helpers.screenshot(page, "dashboard-1366.png", full_page=False)
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{live_server.url}{reverse('dashboard')}")
    rows = page.locator("[data-testid=dashboard] tbody tr")
    assert rows.count() == 25
    last = rows.nth(24).bounding_box()
    assert last["y"] + last["height"] <= 1080  # all 25 visible without scrolling
    helpers.screenshot(page, "dashboard-1920.png", full_page=False)
    # The participant column and the header stay in view when the table scrolls.
    sticky = page.evaluate(
        "[...document.querySelectorAll('.dashboard thead th, .dashboard tbody th')]"
        ".every(th => getComputedStyle(th).position === 'sticky')"
    )
    assert sticky
