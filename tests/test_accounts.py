"""Log in, log out, change password; failed log-ins lock the account."""

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from tests.factories import PASSWORD

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
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()


def test_pages_need_a_log_in(client, visit):
    for path in ["/", "/participants/", f"/participants/{visit.participant_id}/"]:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_sessions_expire_after_30_idle_minutes():
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST
