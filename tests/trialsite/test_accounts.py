"""Log in, log out, change password; failed log-ins lock the account."""

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from tests import factories
from tests.factories import PASSWORD
from tests.helpers import log_in, screenshot
from trialsite import roles

pytestmark = pytest.mark.django_db


def login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_log_in_and_out(client, coordinator):
    response = login(client, "coordinator", PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert client.session[SESSION_KEY] == str(coordinator.pk)
    client.post(reverse("logout"))
    assert SESSION_KEY not in client.session
    assert client.get(reverse("home")).status_code == 302


def test_a_wrong_password_is_refused_with_a_message(client, coordinator):
    response = login(client, "coordinator", "wrong-password")
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_five_failures_lock_the_account_even_for_the_right_password(client, coordinator):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "coordinator", "wrong-password")
    response = login(client, "coordinator", PASSWORD)
    assert response.status_code == 429
    assert "Account locked" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_change_password(client, coordinator):
    client.force_login(coordinator)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-much-longer-new-passphrase",
            "new_password2": "a-much-longer-new-passphrase",
        },
    )
    assert response.status_code == 302
    coordinator.refresh_from_db()
    assert coordinator.check_password("a-much-longer-new-passphrase")
    assert coordinator.password.startswith("argon2")


def test_a_short_new_password_is_refused(client, coordinator):
    client.force_login(coordinator)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "short-pw1", "new_password2": "short-pw1"},
    )
    assert response.status_code == 400
    assert "at least 12 characters" in response.content.decode()


def test_pages_need_a_log_in(client, visit):
    for path in ["/", "/participants/", f"/participants/{visit.participant_id}/"]:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_sessions_expire_after_30_idle_minutes():
    """The behaviour: tests/trialsite/test_request_baseline.py."""
    assert settings.SESSION_COOKIE_AGE == 30 * 60


# --- In the browser (Playwright driving Debian's Chromium) --------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
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
    admin_link = nav.get_by_role("link", name="Users")
    if role == roles.DATA_MANAGER:
        nav.get_by_role("button", name="Data management").click()
        expect(admin_link).to_be_visible()
    else:
        expect(admin_link).to_have_count(0)
    if role in (roles.MONITOR, roles.DATA_MANAGER):
        expect(page.get_by_role("heading", name="Recent changes at your sites")).to_be_visible()
    screenshot(page, f"home-{username}.png")

    page.get_by_role("button", name=username.capitalize()).click()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_shows_an_error_summary(live_server, page):
    factories.UserFactory(username="coordinator", role=roles.COORDINATOR)
    log_in(page, live_server.url, "coordinator", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.get_by_label("Username")).to_have_value("coordinator")
    screenshot(page, "login-error.png")


def test_after_a_secret_key_rotation_sessions_under_the_previous_key_last(coordinator, settings):
    """SECRET_KEY_FALLBACKS (docs/operations.md): a session used while the previous key is a
    fallback moves to the new key; one not used until the fallback is removed ends."""
    used, idle = Client(), Client()
    for client in (used, idle):
        client.force_login(coordinator)
    previous = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "the key after rotation", [previous]
    assert used.get(reverse("home")).status_code == 200
    settings.SECRET_KEY_FALLBACKS = []
    assert used.get(reverse("home")).status_code == 200
    assert idle.get(reverse("home")).status_code == 302
