"""Log-in, second factor, lockout and session lifetime (ASVS 4.0.3 V2 and V3)."""

import re
import time

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests import factories
from tests.helpers import log_in, screenshot, vas_url
from trialsite import roles
from trialsite.accounts.middleware import SIGNED_IN_AT
from trialsite.audit.models import AuditEvent

WRONG = "not-the-password-at-all"


def _log_in(client, username, password=factories.PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def _code(device) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


@pytest.mark.parametrize(
    ("role", "asked"),
    [
        (roles.INVESTIGATOR, True),
        (roles.MONITOR, True),
        (roles.DATA_MANAGER, True),
        (roles.COORDINATOR, False),
    ],
)
def test_asvs_2_8_1_a_second_factor_is_required_of_reviewing_roles(client, lahore, role, asked):
    factories.UserFactory(username="u", role=role, sites=[lahore], second_factor=False)
    assert _log_in(client, "u")["Location"] == "/"
    response = client.get("/")
    if asked:  # no device yet: enrol first
        assert response.status_code == 302 and response["Location"].startswith("/accounts/two-")
        assert client.get("/participants/")["Location"].startswith("/accounts/two-factor/")
    else:
        assert response.status_code == 200


def test_the_code_of_the_app_or_a_recovery_code_completes_the_log_in(client, monitor, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a wrong code otherwise delays the next try (1 s)
    assert _log_in(client, "monitor").status_code == 302
    assert client.get("/")["Location"] == "/accounts/two-factor/?next=/"
    response = client.post(reverse("two_factor"), {"token": "000000", "next": "/"})
    assert response.status_code == 400 and "not right" in response.content.decode()
    assert client.get("/").status_code == 302
    response = client.post(reverse("two_factor"), {"token": _code(monitor.otp_device)})
    assert response.status_code == 302 and client.get("/").status_code == 200
    # A recovery code works once, in place of the app's code.
    device = StaticDevice.objects.create(user=monitor, name="codes", confirmed=True)
    device.token_set.create(token="abcdef1234")
    for expected in (200, 400):
        client.logout()
        _log_in(client, "monitor")
        response = client.post(reverse("two_factor"), {"token": "abcdef1234"}, follow=True)
        assert response.status_code == expected


def test_enrolment_confirms_the_app_gives_recovery_codes_and_is_audited(client, lahore):
    user = factories.UserFactory(
        username="inv", role=roles.INVESTIGATOR, sites=[lahore], second_factor=False
    )
    _log_in(client, "inv")
    assert client.get("/")["Location"] == "/accounts/two-factor/?next=/"
    assert client.get(reverse("two_factor"))["Location"].startswith("/accounts/two-factor/setup/")
    page = client.get(reverse("two_factor_setup"))
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert client.post(reverse("two_factor_setup"), {"token": "12345"}).status_code == 400
    response = client.post(reverse("two_factor_setup"), {"token": _code(device)})
    codes = response.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    device.refresh_from_db()
    assert device.confirmed and client.get("/").status_code == 200
    events = AuditEvent.objects.filter(table_name="otp_totp_totpdevice", row_pk=str(device.pk))
    assert events.exists()
    assert all("key" not in (e.new_values or {}) for e in events)  # recorded by name only
    assert AuditEvent.objects.filter(table_name="otp_static_statictoken").count() >= 10


def test_asvs_2_2_1_wrong_passwords_at_the_signature_prompt_count_toward_lockout(
    client, investigator, coordinator, vas, settings
):
    client.force_login(investigator)
    page = reverse("visit_detail", args=[vas.participant_id, vas.visit_id])
    sign = reverse("sign_records", args=[vas.participant_id])
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(sign, {"visit": vas.visit_id, "password": WRONG, "next": page})
        assert response.status_code == 302
    response = client.post(sign, {"visit": vas.visit_id, "password": WRONG, "next": page})
    assert response.status_code == 429 and "Account locked" in response.content.decode()
    assert SESSION_KEY not in client.session  # logged out
    # The account is locked for log-ins too, even with the right password.
    assert _log_in(client, "investigator").status_code == 429
    assert AccessAttempt.objects.get(username="investigator").failures_since_start >= 5


def test_asvs_2_2_1_wrong_passwords_at_the_password_change_prompt_count(
    client, coordinator, settings
):
    client.force_login(coordinator)
    data = {"old_password": WRONG, "new_password1": "a-new-long-pass", "new_password2": "x"}
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(reverse("password_change"), data).status_code == 400
    assert client.post(reverse("password_change"), data).status_code == 429
    assert _log_in(client, "coordinator").status_code == 429


def test_lockout_is_keyed_by_user_name_not_by_the_proxys_address(client, lahore, settings):
    factories.UserFactory(username="a", role=roles.COORDINATOR, sites=[lahore])
    factories.UserFactory(username="b", role=roles.COORDINATOR, sites=[lahore])
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _log_in(client, "a", WRONG)
    assert _log_in(client, "a").status_code == 429
    # Everyone behind the same proxy address can still log in.
    assert _log_in(client, "b").status_code == 302


def test_asvs_3_3_2_a_session_ends_12_hours_after_log_in_however_busy(client, coordinator):
    client.force_login(coordinator)
    assert client.get("/").status_code == 200
    session = client.session
    session[SIGNED_IN_AT] = time.time() - 12 * 3600 - 1
    session.save()
    response = client.get("/participants/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/").status_code == 302


def test_asvs_3_3_1_idle_sessions_end_after_30_minutes(settings):
    # Requests move the expiry at most a minute apart: tests/trialsite/test_request_baseline.py
    assert settings.SESSION_COOKIE_AGE == 30 * 60 and settings.SESSION_TOUCH_SECONDS == 60
    assert settings.SESSION_ABSOLUTE_SECONDS == 12 * 3600


def test_asvs_14_4_3_every_page_has_a_content_security_policy_without_inline_script(
    client, coordinator, visit
):
    client.force_login(coordinator)
    for path in ["/", reverse("login"), vas_url(visit), "/no-such-page/"]:
        policy = client.get(path)["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self';" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_the_development_code_is_shown_only_with_debug_on(client, monitor, settings):
    _log_in(client, "monitor")
    assert "debug_code" not in client.get(reverse("two_factor")).content.decode()
    assert client.get(reverse("two_factor")).context["debug_code"] is None
    settings.DEBUG = True
    before = _code(monitor.otp_device)
    shown = client.get(reverse("two_factor")).context["debug_code"]
    # The code of the 30-second step the page was made in (one may have begun meanwhile).
    assert shown in {before, _code(monitor.otp_device)}


# --- In the browser (Playwright driving Debian's Chromium) --------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_asvs_14_4_3_pages_break_no_rule_of_the_policy(live_server, page):
    """The pages work under the policy: no inline script or style is refused, and the
    scripts that set widths and submit on change still do."""
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    factories.UserFactory(username="monitor", role=roles.MONITOR, sites=[site], second_factor=False)
    participant = factories.participant_with_visits(
        site=site, arm="A", by=coordinator, participant_id="LHR-001"
    )
    refused = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    log_in(page, live_server.url, "coordinator")
    for path in [
        "/",
        "/dashboard/",
        reverse("screening_new"),
        f"/participants/{participant.pk}/",
        vas_url(participant.visits.get(code="M0")),
    ]:
        page.goto(f"{live_server.url}{path}")
    page.goto(f"{live_server.url}/")
    expect(page.locator(".progress-bar").first).to_have_attribute("style", re.compile("width"))
    page.goto(f"{live_server.url}/dashboard/")
    page.get_by_label("Site").select_option("LHR")
    expect(page).to_have_url(re.compile(r"site=\d+"))
    page.get_by_role("button", name="Coordinator").click()
    page.get_by_role("button", name="Log out").click()
    # A monitor without a second factor is sent to enrol, and the QR code shows.
    log_in(page, live_server.url, "monitor")
    expect(page.get_by_role("heading", name="Set up the second factor")).to_be_visible()
    expect(page.locator(".qr svg")).to_be_visible()
    screenshot(page, "two-factor-setup.png")
    assert refused == []


def test_before_the_second_factor_no_menu_and_no_fragment_is_served(client, monitor):
    _log_in(client, "monitor")
    page = client.get(reverse("two_factor")).content.decode()
    assert "Data management" not in page and "document_tray" not in page
    fragment = client.get(reverse("document_tray"), headers={"HX-Request": "true"})
    assert fragment["HX-Redirect"].startswith("/accounts/two-factor/")


def test_a_coordinator_who_enrolled_is_asked_for_the_code_too(client, lahore):
    factories.UserFactory(username="c", role=roles.COORDINATOR, sites=[lahore])  # has a device
    _log_in(client, "c")
    assert client.get("/")["Location"] == "/accounts/two-factor/?next=/"
