"""`manage.py seed_demo`: a user for every role and a small data set, idempotent."""

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from enrollment.models import Participant
from monitoring.demo import DEMO_PASSWORD
from outcomes.models import VasPain
from trialsite import roles
from trialsite.accounts.models import User
from visits.models import Visit

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, ...]:
    return (
        User.objects.count(),
        Participant.objects.count(),
        Visit.objects.count(),
        VasPain.objects.count(),
    )


def test_seed_demo_creates_a_user_for_every_role_and_is_idempotent():
    call_command("seed_demo")
    first = counts()
    call_command("seed_demo")
    assert counts() == first
    for role in roles.ROLES:
        user = User.objects.filter(groups__name=role).first()
        assert user is not None, role
        assert user.check_password(DEMO_PASSWORD)
        assert user.sites.exists()
    assert first[1] >= 2 and first[3] >= 2


def test_demo_users_log_in_with_the_code_the_development_page_shows(client, settings):
    """make run: DEBUG on, the log-in page says so, and the second-factor page shows the
    current code of the demo user's authenticator, which completes the log-in."""
    call_command("seed_demo")
    assert TOTPDevice.objects.filter(confirmed=True).count() == User.objects.count()
    settings.DEBUG = True
    assert b"Development server" in client.get(reverse("login")).content
    client.post(reverse("login"), {"username": "monitor", "password": DEMO_PASSWORD})
    code = client.get(reverse("two_factor")).context["debug_code"]
    assert client.post(reverse("two_factor"), {"token": code}).status_code == 302
    assert client.get("/").status_code == 200
    client.logout()
    settings.DEBUG = False
    page = client.get(reverse("login"))
    assert page.status_code == 200 and b"Development server" not in page.content
