"""Safety pages: reporting, signing, the listing (filters, sorting, CSV, query count), summary."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from safety import services
from safety.models import AdverseEvent
from tests import factories
from tests.helpers import SERIOUS, ae_answers, ae_post, form_url, log_in, screenshot
from trialsite import protocol, roles
from trialsite.accounts.models import User
from visits.models import Visit

pytestmark = pytest.mark.django_db


def report(participant, by, **overrides):
    return services.report_adverse_event(
        participant=participant, data=ae_answers(**overrides), by=by
    )


def test_a_coordinator_reports_an_event_through_the_page(client, coordinator, arm_a):
    client.force_login(coordinator)
    response = client.post(form_url("adverse_event", participant=arm_a), ae_post())
    ae = AdverseEvent.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "ae_detail", args=[ae.pk]
    )
    assert ae.verbatim_term == "Knee swelling" and ae.created_by == coordinator


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"verbatim_term": ""}, "verbatim_term"),
        ({"grade": "6"}, "grade"),
        ({"onset_date": "2999-01-01"}, "onset_date"),
        ({"serious": "yes"}, "serious"),
        ({"grade": "5"}, "outcome"),
        ({"ongoing": "no"}, "end_date"),
        ({"relationship_secretome": "maybe"}, "relationship_secretome"),
    ],
)
def test_bad_input_is_refused_next_to_the_field(client, coordinator, arm_a, overrides, field):
    client.force_login(coordinator)
    response = client.post(form_url("adverse_event", participant=arm_a), ae_post(**overrides))
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert (
        response.context["form"]["verbatim_term"].value() == ae_post(**overrides)["verbatim_term"]
    )
    assert not AdverseEvent.objects.exists()


def test_arm_a_is_not_asked_about_prgf_and_arm_b_must_answer(client, coordinator, arm_a, arm_b):
    client.force_login(coordinator)
    assert (
        "relationship_prgf"
        not in client.get(form_url("adverse_event", participant=arm_a)).context["form"].fields
    )
    response = client.post(form_url("adverse_event", participant=arm_b), ae_post())
    assert response.status_code == 400 and response.context["form"].errors["relationship_prgf"]


@pytest.mark.parametrize("persona", ["monitor", "investigator", "data_manager"])
def test_only_coordinators_report_events(request, client, arm_a, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.post(form_url("adverse_event", participant=arm_a), ae_post()).status_code == 403
    assert not AdverseEvent.objects.exists()


def test_the_investigator_signs_from_the_queue_and_a_change_voids_it(
    client, coordinator, investigator, arm_a
):
    ae = report(arm_a, coordinator)
    client.force_login(investigator)
    queue = client.get(reverse("review_queue")).context["rows"]
    assert [row[0] for row in queue] == [ae]
    url = reverse("ae_sign", args=[ae.pk])
    sign = {
        "version": ae.version,
        "relationship_secretome": "possible",
        "relationship_procedure": "probable",
        "expected_reaction": "Knee swelling or effusion",
        "password": "not-my-password",
    }
    response = client.post(url, sign)
    assert response.status_code == 400 and response.context["form"].errors["password"]
    assert client.post(url, {**sign, "password": factories.PASSWORD}).status_code == 302
    ae.refresh_from_db()
    assert ae.signed_by == investigator
    html = client.get(reverse("ae_detail", args=[ae.pk])).content.decode()
    assert (
        "Signed by <strong>Investigator Tester</strong>" in html and "Reviewed and approved" in html
    )

    client.force_login(coordinator)
    assert client.get(url).status_code == 403  # a coordinator cannot sign
    edit = ae_post(version=ae.version, grade="2", reason_for_change="worse at follow-up")
    assert (
        client.post(
            form_url("adverse_event", participant=ae.participant, number=ae.number), edit
        ).status_code
        == 302
    )
    ae.refresh_from_db()
    assert not ae.is_signed and ae.grade == 2


def test_an_overdue_sae_shows_red_on_the_home_page(client, coordinator, investigator, arm_a):
    report(arm_a, coordinator, **SERIOUS, awareness_at=timezone.now() - timedelta(hours=30))
    client.force_login(investigator)
    (saes,) = [w for w in client.get(reverse("home")).context["work_lists"] if w.key == "saes"]
    (line,) = saes.lines
    assert line.urgent and "OVERDUE" in line.note
    due = (timezone.now() - timedelta(hours=30) + protocol.SAE_REPORT_WITHIN).astimezone(
        arm_a.site.zone
    )
    assert f"report due {due:%Y-%m-%d %H:%M}" in line.note  # the due time, in the site's zone


def test_listing_filters(client, coordinator, monitor, lahore, arm_a, arm_b):
    today = timezone.localdate()
    mild = report(arm_a, coordinator, verbatim_term="Mild pain")
    sae = report(
        arm_b,
        coordinator,
        verbatim_term="Septic arthritis",
        relationship_prgf="possible",
        **SERIOUS,
        awareness_at=timezone.now(),
    )
    unrelated = report(
        arm_a,
        coordinator,
        verbatim_term="Headache",
        relationship_secretome="not_related",
        relationship_procedure="unlikely",
        location="systemic",
        grade=2,
    )
    services.sign_adverse_event(
        ae=mild,
        password=factories.PASSWORD,
        confirmed={
            "relationship_secretome": "possible",
            "relationship_procedure": "possible",
            "expected_reaction": "",
        },
        version=mild.version,
        by=factories.UserFactory(username="pi", role="Investigator", sites=[lahore]),
    )
    client.force_login(monitor)

    def listed(**params):
        return {ae for ae, _ in client.get(reverse("ae_listing"), params).context["rows"]}

    assert listed() == {mild, sae, unrelated}
    assert listed(serious="yes") == {sae}
    assert listed(arm="A") == {mild, unrelated}
    assert listed(participant=arm_b.participant_id) == {sae}
    assert listed(grade=["2", "3"]) == {sae, unrelated}
    assert listed(related="no") == {unrelated}
    assert listed(related="yes") == {mild, sae}
    assert listed(review="signed") == {mild}
    assert listed(review="awaiting") == {sae, unrelated}
    assert listed(onset_from=(today + timedelta(days=1)).isoformat()) == set()
    assert listed(site=lahore.pk, onset_to=today.isoformat()) == {mild, sae, unrelated}
    ordered = [
        ae for ae, _ in client.get(reverse("ae_listing"), {"sort": "-grade"}).context["rows"]
    ]
    assert ordered[0] == sae and ordered[-1] == mild


def test_a_bad_filter_is_reported_not_a_server_error(client, monitor, arm_a):
    client.force_login(monitor)
    response = client.get(
        reverse("ae_listing"), {"onset_from": "2026-02-01", "onset_to": "2026-01-01", "grade": "9"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["onset_to"] and response.context["form"].errors["grade"]


def test_csv_download(client, coordinator, monitor, arm_a):
    report(arm_a, coordinator, verbatim_term='Stiffness, "morning"')
    client.force_login(monitor)
    response = client.get(reverse("ae_listing"), {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["Participant", "Arm", "Site"]
    assert rows[1][0] == arm_a.participant_id and rows[1][4] == 'Stiffness, "morning"'


def count_listing_queries(client, user) -> int:
    client.force_login(user)
    client.get(reverse("ae_listing"))  # the session's first request stamps it
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("ae_listing")).status_code == 200
    return len(queries)


def test_the_listing_query_count_does_not_grow_with_the_events(
    client, coordinator, monitor, lahore
):
    participants = [
        factories.participant_with_visits(site=lahore, by=coordinator) for _ in range(5)
    ]
    for i in range(10):
        report(participants[i % 5], coordinator)
    ten = count_listing_queries(client, monitor)
    events = AdverseEvent.objects.all()
    template = events.first()
    AdverseEvent.objects.bulk_create(
        [
            AdverseEvent(
                **{
                    f.attname: getattr(template, f.attname)
                    for f in AdverseEvent._meta.concrete_fields
                    if f.name != "id"
                }
                | {"number": 100 + i, "participant_id": participants[i % 5].pk}
            )
            for i in range(490)
        ]
    )
    assert AdverseEvent.objects.count() == 500
    assert count_listing_queries(client, monitor) == ten


def test_summary_by_arm(client, coordinator, monitor, arm_a, arm_b, lahore):
    m0 = Visit.objects.get(participant=arm_a, code="M0")
    Visit.objects.filter(pk=m0.pk).update(visit_date=timezone.localdate() - timedelta(days=3))
    report(arm_a, coordinator)  # index knee, onset today: within 7 days of injection 1
    report(
        arm_a,
        coordinator,
        location="systemic",
        relationship_secretome="not_related",
        relationship_procedure="not_related",
    )
    report(arm_b, coordinator, relationship_prgf="possible", **SERIOUS, awareness_at=timezone.now())
    factories.participant_with_visits(site=lahore, arm="B", by=coordinator)  # no AE
    client.force_login(monitor)
    groups = {g.label: g for g in client.get(reverse("ae_summary")).context["groups"]}
    a, b = groups["Arm A"], groups["Arm B"]
    assert (a.participants, a.with_ae, a.events, a.saes) == (1, 1, 2, 0)
    assert (b.participants, b.with_ae, b.events, b.saes) == (2, 1, 1, 1)
    assert a.by_grade[1] == 2 and b.by_grade[3] == 1
    assert (a.related, a.not_related) == (1, 1)
    assert a.injection_site == {"M0": 1, "M6": 0} and b.injection_site == {"M0": 0, "M6": 0}


def test_an_end_date_in_the_future_is_refused(client, coordinator, arm_a):
    client.force_login(coordinator)
    response = client.post(
        form_url("adverse_event", participant=arm_a),
        ae_post(ongoing="no", end_date="2999-01-01"),
    )
    assert response.status_code == 400
    assert "cannot be in the future" in str(response.context["form"].errors["end_date"])
    assert not AdverseEvent.objects.exists()


# --- In the browser (Playwright driving Debian's Chromium) --------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_coordinator_reports_an_ae_makes_it_serious_and_the_investigator_signs(live_server, page):
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    factories.UserFactory(username="investigator", role=roles.INVESTIGATOR, sites=[site])
    participant = factories.participant_with_visits(
        site=site, arm="A", by=coordinator, participant_id="LHR-001"
    )
    today = timezone.localtime(timezone.now(), site.zone)

    log_in(page, live_server.url, "coordinator")
    page.goto(f"{live_server.url}/participants/{participant.pk}/")
    page.get_by_role("link", name="Report adverse event").click()
    page.get_by_label("Adverse event (verbatim term)").fill("Knee effusion")
    page.fill("#id_onset_date", today.date().isoformat())
    page.check("#id_ongoing_0")
    page.check("#id_location_0")
    page.check("#id_grade_1")  # grade 2
    page.check("#id_serious_1")  # not serious yet
    page.check("#id_relationship_secretome_2")  # possible
    page.check("#id_relationship_procedure_3")  # probable
    page.select_option("#id_expected_reaction", label="Knee swelling or effusion")
    page.select_option("#id_action_taken", label="Dose not changed")
    page.check("#id_outcome_1")  # recovering
    page.get_by_role("button", name="Report event").click()
    expect(page.get_by_text("Adverse event 1 reported.")).to_be_visible()

    # Follow-up: the participant is admitted, which makes the event serious.
    page.get_by_role("link", name="Follow-up or correction").click()
    page.check("#id_serious_0")
    page.get_by_label("Requires or prolongs hospitalisation").check()
    page.fill("#id_awareness_at", today.strftime("%Y-%m-%dT%H:%M"))
    page.check("#id_grade_2")  # grade 3
    page.get_by_label("Reason for change").fill("Admitted for aspiration")
    page.get_by_role("button", name="Save follow-up").click()
    expect(page.get_by_text("Adverse event 1 updated.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("SAE")
    expect(page.get_by_test_id("clock").first).to_contain_text("SAE report due")

    page.get_by_role("button", name="Coordinator").click()
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server.url, "investigator")
    expect(page.get_by_test_id("work-saes")).to_contain_text("Knee effusion")
    expect(page.get_by_test_id("work-saes")).to_contain_text("report due")
    page.goto(f"{live_server.url}/adverse-events/review/")
    page.get_by_role("link", name="Review and sign").click()
    page.get_by_label("Your password").fill(factories.PASSWORD)
    screenshot(page, "ae-sign.png")
    page.get_by_role("button", name="Sign as Investigator Tester").click()
    expect(page.get_by_text("Adverse event 1 signed.")).to_be_visible()
    expect(page.get_by_text("Nothing awaits your review.")).to_be_visible()

    ae = AdverseEvent.objects.get()
    assert ae.serious and ae.hospitalisation and ae.grade == 3
    assert ae.signed_by.username == "investigator"
    page.goto(f"{live_server.url}/adverse-events/{ae.pk}/")
    expect(page.get_by_test_id("signature")).to_contain_text("Signed by Investigator Tester")
    screenshot(page, "ae-signed.png")


def test_due_times_are_shown_in_the_participants_site_zone(client, arm_a, coordinator, monkeypatch):
    """An investigator whose pages are in London time sees a Lahore SAE's due time in PKT."""
    london = factories.SiteFactory(code="AAA", name="London", time_zone="Europe/London")
    reviewer = factories.UserFactory(
        username="reviewer", role=roles.INVESTIGATOR, sites=[london, arm_a.site]
    )
    monkeypatch.setattr(User, "time_zone", property(lambda user: london.time_zone))
    ae = report(arm_a, coordinator, **SERIOUS, awareness_at=timezone.now() - timedelta(hours=1))
    client.force_login(reviewer)
    due = ae.clocks()[0].due
    shown = timezone.localtime(due, arm_a.site.zone).strftime("%Y-%m-%d %H:%M")
    for page in (reverse("ae_detail", args=[ae.pk]), reverse("review_queue")):
        assert f"due {shown} PKT" in client.get(page).content.decode()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_seriousness_criteria_are_asked_only_of_a_serious_event(live_server, page):
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    participant = factories.participant_with_visits(site=site, by=coordinator)
    log_in(page, live_server.url, "coordinator")
    page.goto(f"{live_server.url}{form_url('adverse_event', participant=participant)}")
    criterion = page.get_by_label("Requires or prolongs hospitalisation")
    expect(criterion).to_be_hidden()  # not asked before the event is said to be serious
    page.check("#id_serious_0")  # yes
    expect(criterion).to_be_visible()
    criterion.check()
    page.check("#id_serious_1")  # no: the ticked criterion stays in view, nothing is lost
    expect(criterion).to_be_visible()
    expect(criterion).to_be_checked()
    criterion.uncheck()
    expect(criterion).to_be_hidden()
    screenshot(page, "ae-not-serious.png")
