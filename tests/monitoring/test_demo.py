"""`manage.py seed_demo`: a user for every role and a small data set, idempotent."""

import pytest
from django.core.management import call_command

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
