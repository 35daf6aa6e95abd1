"""Browser tests: Playwright drives Debian's Chromium against the live server."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from trialsite import roles

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
