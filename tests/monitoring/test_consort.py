"""The live CONSORT flow diagram: a small study with a known flow, every box checked, per arm
for users who may see the arm and pooled for those who may not; the page's SVG and the PDF
report draw the same counts."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from enrollment import selectors
from enrollment import services as enrollment_services
from enrollment.models import Screening
from monitoring import consort
from tests import factories, helpers
from trialsite import roles

pytestmark = pytest.mark.django_db


@pytest.fixture
def flow_study(lahore, coordinator, investigator):
    """Three participants in each arm and three candidates who were not randomized:
    - M0 injection: every participant but b3; M6 injection: a1 and b1;
    - a2 lost to follow-up; a3 withdrew consent (no end of study yet); b2 ended early for an
      adverse event; b3 withdrew consent (end of study);
    - VAS pain at M12: a1 and b1 scored, b2 "not done";
    - two candidates not eligible (VAS too low; one also too old), one eligible, not randomized.
    """
    lot = factories.released_lot(by=coordinator, releaser=investigator, volume="100.0")
    today = helpers.site_now().date()
    p = {
        f"{arm.lower()}{n}": factories.participant_with_visits(site=lahore, arm=arm, by=coordinator)
        for arm in "AB"
        for n in (1, 2, 3)
    }
    for name, participant in p.items():
        if name != "b3":
            helpers.give_injection(
                participant,
                "M0",
                today - timedelta(days=370),
                by=coordinator,
                investigator=investigator,
                lot=lot,
            )
    for name in ("a1", "b1"):
        helpers.give_injection(
            p[name],
            "M6",
            today - timedelta(days=188),
            by=coordinator,
            investigator=investigator,
            lot=lot,
        )
    helpers.add_vas(p["a1"], "M12", 20, coordinator)
    helpers.add_vas(p["b1"], "M12", 35, coordinator)
    helpers.save_vas_missing(p["b2"], "M12", coordinator)
    helpers.end_study(p["a2"], coordinator, reason="lost_to_follow_up")
    enrollment_services.withdraw_consent(
        consent=p["a3"].screening.consent,
        withdrawn_on=today,
        data_use_allowed=True,
        note="moved away",
        by=coordinator,
    )
    helpers.end_study(p["b2"], coordinator, reason="adverse_event", reason_detail="AE 1")
    helpers.end_study(p["b3"], coordinator, reason="withdrawal_of_consent")
    factories.screening(site=lahore, by=coordinator, vas_index_knee_mm=12)
    factories.screening(site=lahore, by=coordinator, vas_index_knee_mm=12, age_years=70)
    factories.consented_screening(site=lahore, by=coordinator)
    return p


def test_every_box_per_arm(monitor, flow_study):
    found = consort.flow(monitor)
    assert (found.assessed, found.excluded, found.randomized, found.by_arm) == (9, 3, 6, True)
    reasons = dict(found.excluded_reasons)
    assert reasons["VAS pain too low"] == 2
    assert reasons["Eligible, not randomized (declined or pending)"] == 1
    a, b = found.columns
    assert a.label.startswith("Arm A") and b.label.startswith("Arm B")
    assert (a.allocated, a.received_m0, a.not_received_m0, a.received_m6) == (3, 3, 0, 1)
    assert (b.allocated, b.received_m0, b.not_received_m0, b.received_m6) == (3, 2, 1, 1)
    assert (a.lost, a.discontinued, a.discontinued_reasons) == (
        1,
        1,
        [("Withdrawal of consent", 1)],
    )
    assert (b.lost, b.discontinued, b.discontinued_reasons) == (
        0,
        2,
        [("Withdrawal of consent", 1), ("Adverse event", 1)],
    )
    assert (a.analysed, a.not_analysed, b.analysed, b.not_analysed) == (1, 2, 1, 2)


def test_the_enrolment_counts_of_the_screening_log(lahore, flow_study):
    counts = selectors.consort_counts(Screening.objects.filter(site=lahore))
    assert (counts.assessed, counts.not_eligible, counts.eligible_not_randomized) == (9, 2, 1)
    assert (counts.randomized, counts.randomized_by_arm) == (6, [("Arm A", 3), ("Arm B", 3)])
    assert counts.withdrawn == 1  # a3 withdrew consent; b3 ended the study for it
    assert dict(counts.excluded_by_criterion)["VAS pain too low"] == 2
    assert selectors.consort_counts(Screening.objects.none()).assessed == 0


def test_a_blinded_user_sees_pooled_counts_only(client, lahore, flow_study):
    blinded = factories.UserFactory(
        username="assessor", role=roles.MONITOR, sites=[lahore], is_blinded_assessor=True
    )
    found = consort.flow(blinded)
    (everyone,) = found.columns
    assert found.by_arm is False
    assert (everyone.allocated, everyone.received_m0, everyone.received_m6) == (6, 5, 2)
    assert (everyone.lost, everyone.discontinued, everyone.analysed) == (1, 3, 2)
    client.force_login(blinded)
    page = client.get(reverse("consort")).content.decode()
    diagram = page.split('data-testid="consort"')[1].split("</svg>")[0]
    assert "Allocated: All randomized participants (n=6)" in diagram
    assert "Arm" not in diagram and "secretome" not in diagram.lower()


def drawn(client) -> str:
    """The words of the page's diagram, its lines joined as a reader reads them."""
    page = client.get(reverse("consort")).content.decode()
    diagram = page.split('data-testid="consort"')[1].split("</svg>")[0]
    assert "<svg" in diagram and 'data-box="assessed"' in diagram
    return " ".join(re.sub(r"<[^>]+>", " ", diagram).split())


def test_the_page_draws_each_box_and_changes_with_the_data(
    client, monitor, coordinator, flow_study
):
    client.force_login(monitor)
    page = drawn(client)
    for text in (
        "Assessed for eligibility (n=9)",
        "Excluded (n=3)",
        "Randomized (n=6)",
        "Lost to follow-up (n=1)",
        "Did not receive it (n=1)",
        "Analysed for the primary outcome at M12 (n=1)",
    ):
        assert text in page, text
    helpers.end_study(flow_study["a1"], coordinator, reason="lost_to_follow_up")
    assert "Lost to follow-up (n=2)" in drawn(client)


def test_the_pdf_report_has_the_same_counts(
    monitor, flow_study, django_capture_on_commit_callbacks
):
    document = helpers.make_document("consort", {}, monitor, django_capture_on_commit_callbacks)
    assert document.status == "ready", document.error
    text = " ".join(helpers.pdf_text(document).split())
    for expected in (
        "CONSORT flow diagram",
        "Assessed for eligibility (n=9)",
        "Randomized (n=6)",
        "Received the month-6 injection (n=1)",
    ):
        assert expected in text, expected


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_coordinator_records_what_changes_the_flow_and_the_diagram_follows(live_server, page):
    """A forbidden medication and a late visit each open a deviation; an early termination
    moves the participant to "discontinued" in the CONSORT diagram."""
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    investigator = factories.UserFactory(
        username="investigator", role=roles.INVESTIGATOR, sites=[site]
    )
    participant = factories.participant_with_visits(site=site, arm="A", by=coordinator)
    lot = factories.released_lot(by=coordinator, releaser=investigator)
    today = helpers.site_now().date()
    helpers.give_injection(
        participant,
        "M0",
        today - timedelta(days=60),
        by=coordinator,
        investigator=investigator,
        lot=lot,
    )
    helpers.log_in(page, live_server.url, "coordinator")
    consort_url = f"{live_server.url}{reverse('consort')}"
    page.goto(consort_url)
    diagram = page.get_by_test_id("consort")
    expect(diagram).to_contain_text("Discontinued (n=0)")

    participant_url = f"{live_server.url}{reverse('participant_detail', args=[participant.pk])}"
    page.goto(participant_url)
    page.get_by_role("link", name="Add concomitant medication").click()
    page.get_by_label("Drug name").fill("Triamcinolone acetonide")
    page.get_by_label("Indication").fill("Knee flare")
    page.get_by_label("Dose").fill("40")
    page.get_by_label("Unit").select_option("mg")
    page.get_by_label("Route").select_option("intra_articular")
    page.get_by_label("Frequency").select_option("once")
    page.get_by_label("Start date").fill(today.isoformat())
    page.get_by_label("No", exact=True).check()
    page.get_by_label("Stop date").fill(today.isoformat())
    page.get_by_role("button", name="Save and exit").click()
    expect(page.get_by_role("status").first).to_contain_text("Protocol deviation 1 was recorded")
    deviations = page.get_by_test_id("log-deviation")
    expect(deviations).to_contain_text("Forbidden medication, major")
    helpers.screenshot(page, "forbidden-medication-deviation.png")

    m1 = helpers.visit(participant, "M1")
    page.goto(f"{live_server.url}{reverse('visit_detail', args=[participant.pk, m1.pk])}")
    page.get_by_label("Date of visit").fill(today.isoformat())
    page.get_by_role("button", name="Save date").click()
    page.goto(participant_url)
    expect(deviations).to_contain_text("Outside a visit window, minor")

    page.get_by_role("link", name="Record end of study").click()
    page.get_by_label("Ended early").check()
    page.get_by_label("Investigator's decision").check()
    page.get_by_label("Date of completion or early termination").fill(today.isoformat())
    page.get_by_label("Date of last contact").fill(today.isoformat())
    page.get_by_role("button", name="Save and exit").click()
    expect(page.get_by_test_id("ended")).to_contain_text("Ended early")
    helpers.screenshot(page, "end-of-study-participant.png")

    page.goto(consort_url)
    expect(diagram).to_contain_text("Discontinued (n=1)")
    expect(diagram).to_contain_text("Investigator's decision (n=1)")
    helpers.screenshot(page, "consort-after-termination.png")
    assert participant.deviations.count() == 2
