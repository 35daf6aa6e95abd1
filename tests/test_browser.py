"""Browser tests: Playwright drives Debian's Chromium against the live server."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from enrollment import randomization, services
from enrollment.models import Participant
from monitoring.models import DataQuery
from outcomes import womac
from outcomes.models import VasPain, Womac
from safety.models import AdverseEvent
from tests import factories
from trialsite import roles
from trialsite.accounts.models import User
from trialsite.crf import save_crf
from trialsite.demo import eligible_answers
from visits.models import Injection

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, base_url: str, username: str, password: str = factories.PASSWORD) -> None:
    page.goto(f"{base_url}/")
    expect(page).to_have_url(f"{base_url}/accounts/login/?next=/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.parametrize("role", roles.ROLES)
def test_each_role_logs_in_through_the_login_page_and_sees_its_home(live_server, page, role):
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    factories.ParticipantFactory(site=site, participant_id="LHR-001")
    username = role.lower().replace(" ", "")
    factories.UserFactory(
        username=username, role=role, sites=[site], is_staff=role == roles.DATA_MANAGER
    )

    log_in(page, live_server.url, username)

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")
    expect(page.get_by_test_id("home-role")).to_contain_text(role)
    expect(page.get_by_text("CEMB Lahore")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Participants")).to_be_visible()
    admin_link = nav.get_by_role("link", name="Users and sites")
    if role == roles.DATA_MANAGER:
        nav.get_by_role("button", name="Data management").click()
        expect(admin_link).to_be_visible()
    else:
        expect(admin_link).to_have_count(0)
    if role in (roles.MONITOR, roles.DATA_MANAGER):
        expect(page.get_by_role("heading", name="Recent changes at your sites")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"home-{username}.png", full_page=True)

    page.get_by_role("button", name=username.capitalize()).click()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")


def test_a_wrong_password_shows_an_error_summary(live_server, page):
    factories.UserFactory(username="coordinator", role=roles.COORDINATOR)
    log_in(page, live_server.url, "coordinator", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.get_by_label("Username")).to_have_value("coordinator")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "login-error.png", full_page=True)


# The yes/no answers of an eligible candidate.
YES_NO_ANSWERS = {k: v for k, v in eligible_answers().items() if isinstance(v, bool)}


def fill_screening(page: Page, *, vas: int, dob: str = "1980-03-01") -> None:
    page.get_by_label("Screening date").fill(timezone.localdate().isoformat())
    page.get_by_label("Date of birth").fill(dob)
    page.check("#id_sex_1")  # male
    page.get_by_label("Height (cm)").fill("168.5")
    page.get_by_label("Weight (kg)").fill("77")
    page.check("#id_index_knee_1")  # right
    page.check("#id_kl_grade_left_1")
    page.check("#id_kl_grade_right_2")
    for name, yes in YES_NO_ANSWERS.items():
        page.check(f"#id_{name}_{0 if yes else 1}")
    page.get_by_label("VAS pain of the index knee (mm)").fill(str(vas))
    page.get_by_label("VAS pain of the index knee (mm)").blur()


def test_a_coordinator_screens_consents_and_randomizes(live_server, page):
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    factories.UserFactory(username="coordinator", role=roles.COORDINATOR, sites=[site])
    services.import_randomization_list(
        content=randomization.to_csv(randomization.make_list(seed=9, size=30)).encode(),
        file_name="list.csv",
        imported_by="test",
    )
    log_in(page, live_server.url, "coordinator")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Screening").click()

    # An ineligible candidate: the panel says why while the form is filled.
    page.get_by_role("link", name="New screening").click()
    fill_screening(page, vas=12)
    result = page.get_by_test_id("eligibility-result")
    expect(result).to_have_text("Not eligible")
    expect(page.locator("#eligibility")).to_contain_text("VAS pain 12 mm is below 20 mm.")
    expect(page.get_by_text("BMI 27.1")).to_be_visible()
    page.get_by_role("button", name="Save screening").click()
    expect(page.get_by_test_id("decision")).to_have_text("Not eligible")
    expect(page.get_by_text("Not eligible: cannot be randomized.")).to_be_visible()

    # An eligible candidate.
    page.get_by_role("navigation", name="breadcrumb").get_by_role(
        "link", name="Screening log"
    ).click()
    page.get_by_role("link", name="New screening").click()
    fill_screening(page, vas=64)
    expect(page.get_by_test_id("eligibility-result")).to_have_text("Eligible")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "screening-eligible.png", full_page=True)
    page.get_by_role("button", name="Save screening").click()
    expect(page.get_by_test_id("decision")).to_have_text("Eligible")

    page.get_by_role("link", name="Record consent").click()
    page.get_by_label("Date and time of consent").fill(
        timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    )
    page.get_by_label("Consent obtained by").select_option(label="Coordinator Tester")
    page.check("#id_copy_given_0")
    page.get_by_role("button", name="Record consent").click()
    expect(page.get_by_text("Consent recorded.")).to_be_visible()

    page.get_by_role("button", name="Randomize").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("LHR-001")
    participant = Participant.objects.get()
    expect(page.get_by_text(f"Arm {participant.arm}:")).to_be_visible()
    assert participant.slot.sequence == 1
    page.screenshot(path=SCREENSHOTS / "participant-randomized.png", full_page=True)

    nav.get_by_role("link", name="Screening").click()
    expect(page.get_by_test_id("consort-assessed")).to_have_text("2")
    expect(page.get_by_test_id("consort-randomized")).to_have_text("1")
    page.screenshot(path=SCREENSHOTS / "screening-log.png", full_page=True)


def test_m0_injection_for_an_arm_b_participant_with_prgf_preparation(live_server, page):
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    factories.UserFactory(username="investigator", role=roles.INVESTIGATOR, sites=[site])
    investigator = User.objects.get(username="investigator")
    lot = factories.released_lot(by=coordinator, releaser=investigator, lot_number="SEC-24-007")
    participant = factories.participant_with_visits(
        site=site, arm="B", by=coordinator, participant_id="LHR-001"
    )
    now = timezone.localtime(timezone.now(), site.zone).replace(second=0, microsecond=0)
    drawn = now - timedelta(minutes=50)

    def at(moment):
        return moment.strftime("%Y-%m-%dT%H:%M")

    log_in(page, live_server.url, "coordinator")
    page.goto(f"{live_server.url}/participants/{participant.pk}/")
    m0 = (
        page.get_by_test_id("timeline")
        .get_by_role("row")
        .filter(has_text="Baseline and injection 1")
    )

    m0.get_by_role("link", name="PRGF preparation").click()
    page.fill("#id_blood_drawn_at", at(drawn))
    page.fill("#id_blood_volume_ml", "18")
    page.check("#id_anticoagulant_0")
    page.fill("#id_centrifugation_g", "580")
    page.fill("#id_centrifugation_minutes", "8")
    page.fill("#id_centrifugation_temperature_c", "22")
    page.check("#id_fraction_collected_0")
    page.fill("#id_platelets_whole_blood", "210")
    page.fill("#id_platelets_prgf", "520")
    page.fill("#id_activated_at", at(drawn + timedelta(minutes=25)))
    page.fill("#id_calcium_chloride_ul", "50")
    page.fill("#id_mixed_with_secretome_at", at(drawn + timedelta(minutes=30)))
    page.select_option("#id_operator", label="Coordinator Tester")
    page.select_option("#id_identity_checked_by", label="Investigator Tester")
    page.get_by_label("Form complete").check()
    page.get_by_role("button", name="Save and exit").click()
    expect(page.get_by_text("PRGF preparation saved.")).to_be_visible()

    m0.get_by_role("link", name="Injection procedure").click()
    page.fill("#id_injected_at", at(now - timedelta(minutes=5)))
    page.check("#id_knee_1")
    page.check("#id_ultrasound_guided_0")
    page.check("#id_approach_0")
    page.fill("#id_needle_gauge", "21")
    page.check("#id_aspiration_done_0")
    page.fill("#id_aspiration_volume_ml", "4")
    page.check("#id_aspiration_appearance_0")
    page.check("#id_aspiration_sample_sent_0")
    page.select_option("#id_secretome_lot", index=1)
    expect(page.locator("#id_secretome_volume_ml")).to_have_value("2.0")
    expect(page.locator("#id_prgf_volume_ml")).to_have_value("1.0")
    page.get_by_label("Form complete").check()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "injection-arm-b.png", full_page=True)
    page.get_by_role("button", name="Save and exit").click()
    expect(page.get_by_text("Injection procedure saved.")).to_be_visible()
    expect(m0).to_contain_text("Completed")
    page.screenshot(path=SCREENSHOTS / "timeline-after-m0.png", full_page=True)

    injection = Injection.objects.get()
    assert injection.total_volume_ml == Decimal("3.0")
    assert injection.prgf_preparation.platelet_fold == Decimal("2.48")
    assert injection.minutes_draw_to_injection == 45
    lot.refresh_from_db()
    assert lot.balance_ml == Decimal("18.0")


def test_a_full_womac_entered_with_the_keyboard_only(live_server, page):
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    participant = factories.participant_with_visits(site=site, by=coordinator)
    m1 = participant.visits.get(code="M1")
    wanted = {code: (i * 3) % 5 for i, code in enumerate(womac.CODES)}

    log_in(page, live_server.url, "coordinator")
    page.goto(f"{live_server.url}/participants/{participant.pk}/visits/{m1.pk}/womac/")
    # The first question takes the focus; from here on only keys are pressed.
    expect(page.locator("#id_knee_0")).to_be_focused()
    page.keyboard.press("ArrowRight")  # knee: Left -> Right
    for code in womac.CODES:
        page.keyboard.press("Tab")
        if wanted[code] == 0:
            page.keyboard.press("Space")
        for _ in range(wanted[code]):
            page.keyboard.press("ArrowRight")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # form complete
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "womac-keyboard.png", full_page=True)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Save
    expect(page.get_by_text("WOMAC saved.")).to_be_visible()
    expect(page.get_by_test_id("womac-scores")).to_be_visible()

    crf = Womac.objects.get(visit=m1)
    assert crf.knee == "R" and crf.is_complete
    assert crf.items() == wanted
    expected = womac.score(wanted)
    assert (crf.pain, crf.stiffness, crf.function, crf.total) == (
        expected.pain,
        expected.stiffness,
        expected.function,
        expected.total,
    )


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
    expect(page.get_by_test_id("open-sae")).to_contain_text("Knee effusion")
    page.goto(f"{live_server.url}/adverse-events/review/")
    page.get_by_role("link", name="Review and sign").click()
    page.get_by_label("Your password").fill(factories.PASSWORD)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "ae-sign.png", full_page=True)
    page.get_by_role("button", name="Sign as Investigator Tester").click()
    expect(page.get_by_text("Adverse event 1 signed.")).to_be_visible()
    expect(page.get_by_text("Nothing awaits your review.")).to_be_visible()

    ae = AdverseEvent.objects.get()
    assert ae.serious and ae.hospitalisation and ae.grade == 3
    assert ae.signed_by.username == "investigator"
    page.goto(f"{live_server.url}/adverse-events/{ae.pk}/")
    expect(page.get_by_test_id("signature")).to_contain_text("Signed by Investigator Tester")
    page.screenshot(path=SCREENSHOTS / "ae-signed.png", full_page=True)


def test_a_query_round_trip(live_server, page):
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    factories.UserFactory(username="monitor", role=roles.MONITOR, sites=[site])
    participant = factories.participant_with_visits(site=site, by=coordinator)
    m0 = participant.visits.get(code="M0")
    save_crf(
        crf_class=VasPain,
        visit=m0,
        data=factories.vas_answers(score_mm=40),
        version=0,
        complete=True,
        by=coordinator,
    )
    crf_page = f"{live_server.url}/participants/{participant.pk}/visits/{m0.pk}/vas-pain/"

    log_in(page, live_server.url, "monitor")
    page.goto(crf_page)
    page.get_by_text("Raise a query").click()
    page.get_by_label("Field").select_option(label="VAS pain (mm)")
    page.get_by_label("Question").fill("The source says 44 mm: please check.")
    page.get_by_role("button", name="Raise query").click()
    expect(page.get_by_test_id("queries")).to_contain_text("Open")
    page.get_by_role("button", name="Monitor").click()
    page.get_by_role("button", name="Log out").click()

    log_in(page, live_server.url, "coordinator")
    page.goto(crf_page)
    page.get_by_label("VAS pain (mm)").fill("44")
    page.get_by_label("Reason for change").fill("Transcription error, query 1")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("VAS pain saved.")).to_be_visible()
    page.get_by_placeholder("Answer").fill("Corrected to 44 mm from the source.")
    page.get_by_role("button", name="Answer").click()
    expect(page.get_by_test_id("queries")).to_contain_text("Answered")
    page.get_by_role("button", name="Coordinator").click()
    page.get_by_role("button", name="Log out").click()

    log_in(page, live_server.url, "monitor")
    page.goto(crf_page)
    page.get_by_placeholder("Note").fill("Agrees with source.")
    page.get_by_role("button", name="Close").click()
    expect(page.get_by_test_id("queries")).to_contain_text("Closed")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "query-closed.png", full_page=True)

    query = DataQuery.objects.get()
    assert query.state == "closed"
    assert [m.kind for m in query.messages.all()] == ["question", "answer", "close"]
    assert VasPain.objects.get(visit=m0).score_mm == 44


def test_a_monitor_asks_for_a_casebook_keeps_working_and_downloads_it(
    live_server, page, worker, settings, tmp_path
):
    import hashlib

    from monitoring.models import Document, ExportLog

    settings.MEDIA_ROOT = tmp_path / "media"
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    monitor = factories.UserFactory(username="monitor", role=roles.MONITOR, sites=[site])
    participant = factories.participant_with_visits(site=site, arm="B", by=coordinator)
    save_crf(
        crf_class=VasPain,
        visit=participant.visits.get(code="M0"),
        data=factories.vas_answers(),
        version=0,
        complete=True,
        by=coordinator,
    )
    log_in(page, live_server.url, "monitor")
    page.goto(f"{live_server.url}/participants/{participant.pk}/")
    page.get_by_role("button", name="Casebook PDF").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Casebook of {participant}")
    expect(page.get_by_test_id("document-status")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "document-progress.png", full_page=True)

    # The monitor keeps working; the bar at the top says when the casebook is ready.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Participants × visits")
    tray = page.get_by_test_id("document-tray")
    expect(tray).to_contain_text("is ready: download", timeout=90_000)
    page.screenshot(path=SCREENSHOTS / "document-ready-tray.png")
    with page.expect_download() as info:
        tray.get_by_role("link", name=f"Casebook of {participant} is ready: download").click()
    download = info.value
    content = Path(download.path()).read_bytes()
    document = Document.objects.get()
    assert content.startswith(b"%PDF") and hashlib.sha256(content).hexdigest() == document.sha256
    assert download.suggested_filename == f"casebook-{participant}.pdf"
    assert ExportLog.objects.get().user == monitor

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Downloads").click()
    expect(page.get_by_test_id("documents")).to_contain_text("Ready")
    page.screenshot(path=SCREENSHOTS / "documents.png", full_page=True)
