"""Browser tests: Playwright drives Debian's Chromium against the live server."""

from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from enrollment import randomization, services
from enrollment.models import Participant
from tests import factories
from trialsite import roles
from trialsite.demo import eligible_answers

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
