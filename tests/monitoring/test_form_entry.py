"""The one view that enters any registered form of a visit or entry of a log: what it refuses,
where it goes after a save, and the conflict page of a log entry."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outcomes.models import VasPain
from safety import services as safety_services
from safety.models import AdverseEvent
from tests import factories, helpers
from tests.helpers import ae_answers, ae_post, form_url, log_in, screenshot, vas_post, womac_post
from trialsite import roles
from visits.models import Deviation

pytestmark = pytest.mark.django_db


def test_a_log_entry_is_saved_numbered_and_shown_on_its_page(client, coordinator, arm_a):
    client.force_login(coordinator)
    response = client.post(form_url("adverse_event", participant=arm_a), ae_post())
    ae = AdverseEvent.objects.get()
    assert ae.number == 1 and ae.created_by == coordinator
    assert response["Location"] == f"/adverse-events/{ae.pk}/"
    second = client.post(
        form_url("adverse_event", participant=arm_a), {**ae_post(), "save_exit": ""}
    )
    assert second["Location"] == f"/participants/{arm_a.pk}/"
    assert list(arm_a.adverse_events.order_by("number").values_list("number", flat=True)) == [1, 2]


def test_a_stale_log_entry_shows_both_values_and_keeps_the_users(client, coordinator, arm_a):
    ae = safety_services.report_adverse_event(participant=arm_a, data=ae_answers(), by=coordinator)
    url = form_url("adverse_event", participant=arm_a, number=ae.number)
    client.force_login(coordinator)
    first = ae_post(version=1, grade="2", reason_for_change="worse")
    assert client.post(url, first).status_code == 302
    stale = ae_post(version=1, grade="3", reason_for_change="much worse")
    response = client.post(url, stale)
    assert response.status_code == 409
    assert ("Severity (CTCAE v5 grade)", "3 – Severe or medically significant", "2 – Moderate") in [
        tuple(map(str, row)) for row in response.context["rows"]
    ]
    assert response.context["form"]["grade"].value() == "3"
    assert AdverseEvent.objects.get().grade == 2


@pytest.mark.parametrize(
    "url",
    [
        lambda p, v: form_url("adverse_event", visit=v),  # a log is not a form of a visit
        lambda p, v: form_url("vas_pain", participant=p),  # nor a visit's form a log
        lambda p, v: form_url("vas_pain", participant=p, number=1),
        lambda p, v: form_url("adverse_event", participant=p, number=7),  # no such entry
        lambda p, v: form_url("screening", visit=v),  # entered on its own page
        lambda p, v: form_url("no_such_form", visit=v),
        lambda p, v: form_url("womac", visit=helpers.visit(p, "W1")),  # not collected at W1
    ],
)
def test_what_the_view_does_not_enter_is_not_found(client, coordinator, arm_a, url):
    client.force_login(coordinator)
    assert client.get(url(arm_a, helpers.visit(arm_a, "M1"))).status_code == 404


def test_another_sites_participant_is_not_found(client, outsider, arm_a):
    client.force_login(outsider)
    assert client.get(form_url("vas_pain", visit=helpers.visit(arm_a, "M1"))).status_code == 404
    assert client.get(form_url("adverse_event", participant=arm_a)).status_code == 404


def test_a_role_that_may_only_read_sees_the_form_disabled_and_cannot_save(client, monitor, vas):
    client.force_login(monitor)
    url = form_url("vas_pain", visit=vas.visit)
    form = client.get(url).context["form"]
    assert all(field.disabled for field in form.fields.values())
    assert client.post(url, helpers.vas_post(version=1, score_mm="70")).status_code == 403
    assert client.get(form_url("adverse_event", participant=vas.participant)).status_code == 403
    vas.refresh_from_db()
    assert vas.score_mm == 40


# --- A form collected outside its visit's window (issue 15, point 5) -------------------------
def _m1(site, by, days_ago):
    participant = factories.participant_with_visits(
        site=site, by=by, randomized_at=timezone.now() - timedelta(days=days_ago)
    )
    return participant.visits.get(code="M1")  # day 30, window ± 7 days


@pytest.mark.parametrize(
    ("days_ago", "offset", "asked"),
    [
        # Randomized 30 days ago: M1's window is today - 7 to today + 7.
        (30, -7, False),  # the day it opens
        (30, -8, True),  # the day before: "before its window opens"
        (30, 0, False),
        # Randomized 40 days ago: the window is today - 17 to today - 3.
        (40, -3, False),  # the day it closes
        (40, -2, True),  # the day after: "after its window closed"
    ],
)
def test_a_form_collected_outside_its_window_is_confirmed_and_a_deviation_recorded(
    client, coordinator, lahore, days_ago, offset, asked
):
    m1 = _m1(lahore, coordinator, days_ago)
    day = lahore.today() + timedelta(days=offset)
    client.force_login(coordinator)
    # Midnight at the site: never in the future, whenever the test runs.
    post = vas_post(assessed_at=f"{day:%Y-%m-%d}T00:00")
    response = client.post(form_url("vas_pain", visit=m1), post)
    if not asked:
        assert response.status_code == 302
        assert not Deviation.objects.filter(visit=m1).exists()
        return
    assert response.status_code == 400
    message = " ".join(response.context["form"].non_field_errors())
    where = "before its window opens" if days_ago == 30 else "after its window closed"
    assert f"Collected on {day:%Y-%m-%d}, {where}" in message
    assert response.context["form"]["assessed_at"].value() == post["assessed_at"]
    assert not VasPain.objects.filter(visit=m1).exists()
    response = client.post(form_url("vas_pain", visit=m1), {**post, "confirm_unusual": "on"})
    assert response.status_code == 302 and VasPain.objects.filter(visit=m1).exists()
    deviation = Deviation.objects.get(visit=m1, category="visit_window")
    assert deviation.occurred_on == day and "VAS pain at M1" in deviation.description


def test_a_form_without_its_own_date_counts_the_day_it_is_entered(client, coordinator, lahore):
    m1 = _m1(lahore, coordinator, days_ago=0)  # M1's window opens in 23 days
    client.force_login(coordinator)
    response = client.post(form_url("womac", visit=m1), womac_post())
    assert response.status_code == 400
    assert "before its window opens" in " ".join(response.context["form"].non_field_errors())


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_coordinator_confirms_a_form_entered_before_its_window(live_server, page):
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    m1 = _m1(site, coordinator, days_ago=0)
    log_in(page, live_server.url, "coordinator")
    page.goto(f"{live_server.url}{form_url('vas_pain', visit=m1)}")
    page.get_by_label("Date and time of assessment").fill(
        helpers.site_now().strftime("%Y-%m-%dT%H:%M")
    )
    page.get_by_label("Right").check()
    page.get_by_label("VAS pain (mm)", exact=True).fill("35")
    page.get_by_label("Paper line, measured with a ruler").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("before its window opens")
    expect(page.get_by_label("VAS pain (mm)", exact=True)).to_have_value(
        "35"
    )  # nothing typed is lost
    screenshot(page, "vas-before-window.png")
    page.get_by_label("I confirm these values").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("VAS pain saved.")).to_be_visible()
    assert Deviation.objects.filter(visit=m1, category="visit_window").count() == 1


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_an_impossible_date_and_a_decimal_comma_keep_what_was_typed(live_server, page):
    """Issue 15, point 5: the page says what is wrong and loses nothing the user typed."""
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    participant = factories.participant_with_visits(site=site, by=coordinator)
    m0 = participant.visits.get(code="M0")
    log_in(page, live_server.url, "coordinator")
    page.goto(f"{live_server.url}{form_url('synovial_biomarkers', visit=m0)}")
    page.get_by_label("Date and time of aspiration").fill("2026-02-31 09:30")
    page.get_by_label("Volume aspirated (mL)").fill("2,5")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("February 2026 has 28 days")
    expect(page.get_by_role("alert")).to_contain_text("not a comma")
    expect(page.get_by_label("Date and time of aspiration")).to_have_value("2026-02-31 09:30")
    expect(page.get_by_label("Volume aspirated (mL)")).to_have_value("2,5")
    screenshot(page, "biomarkers-typed-kept.png")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_leaving_a_form_with_unsaved_changes_asks_first_and_not_after_saving(
    live_server, page, coordinator, visit
):
    log_in(page, live_server.url, coordinator.username)
    url = f"{live_server.url}{form_url('vas_pain', visit=visit)}"
    asked = []

    def refuse_to_leave(dialog):
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", refuse_to_leave)
    page.goto(url)
    page.get_by_role("link", name="Cancel").click()  # nothing typed: leaves without a word
    page.wait_for_url(f"**/participants/{visit.participant_id}/")
    assert asked == []

    page.goto(url)
    page.get_by_label("Date and time of assessment").fill(
        helpers.site_now().strftime("%Y-%m-%d %H:%M")
    )
    page.get_by_label("VAS pain (mm)", exact=True).fill("35")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_label("VAS pain (mm)", exact=True)).to_have_value("35")
    assert asked == ["beforeunload"]  # asked, and the user stayed with what they typed

    page.get_by_role("button", name="Save", exact=True).click()  # refused: no knee, no method
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_label("VAS pain (mm)", exact=True)).to_have_value("35")
    assert asked == ["beforeunload"] * 2  # refused values are not saved either

    page.get_by_label("Right").check()
    page.get_by_label("Paper line, measured with a ruler").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("VAS pain saved.")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()  # saved: leaves without a word
    page.wait_for_url(f"**/participants/{visit.participant_id}/")
    assert asked == ["beforeunload"] * 2
    assert VasPain.objects.get(visit=visit).score_mm == 35


def test_a_log_entry_saved_again_unchanged_with_yes_no_answers_is_not_a_change(
    client, coordinator, arm_a
):
    ae = safety_services.report_adverse_event(participant=arm_a, data=ae_answers(), by=coordinator)
    assert ae.ongoing is True  # a yes/no answer stored as True, shown and posted as "yes"
    client.force_login(coordinator)
    url = form_url("adverse_event", participant=arm_a, number=ae.number)
    response = client.post(url, ae_post(version=1), follow=True)
    assert "Nothing was changed." in response.content.decode()
    assert AdverseEvent.objects.get(pk=ae.pk).version == 1
