from datetime import timedelta
from decimal import Decimal
from functools import cache

import factory
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from enrollment import services as enrollment_services
from enrollment.models import Participant
from monitoring.demo import eligible_answers, record_passing_release_tests
from trialsite.accounts.models import User
from trialsite.sites.models import Site
from visits import services as visit_services
from visits.models import Visit

PASSWORD = "correct-horse-battery-staple"


@cache
def _hashed(password: str) -> str:
    """The password hashed once per test run, by the site's own hasher (Argon2 takes 0.3 s a
    hash): every test user made with it stores this hash, as if each had chosen the same
    password. Logging in still checks it with Argon2."""
    return make_password(password)


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"S{n:02d}")
    name = factory.LazyAttribute(lambda o: f"Site {o.code}")
    time_zone = "Asia/Karachi"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.LazyAttribute(lambda o: o.username.capitalize())
    last_name = "Tester"
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.django.Password(PASSWORD, transform=_hashed)

    @factory.post_generation
    def sites(self, create, extracted, **kwargs):
        if extracted:
            self.sites.add(*extracted)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))

    @factory.post_generation
    def second_factor(self, create, extracted, **kwargs):
        """Every test user has an authenticator app; `client.force_login(user)` then counts
        as verified (django_otp logs in `user.otp_device`). second_factor=False: none."""
        if create and extracted is not False:
            self.otp_device = TOTPDevice.objects.create(user=self, name="test", confirmed=True)


def screening(*, site, by, **overrides):
    return enrollment_services.screen_candidate(
        site=site, data=eligible_answers(**overrides), by=by
    )


# Test participants consented long ago, so that tests may date their visits and forms freely
# in the recent past (nothing may be dated before consent: trialsite/crf/rules.py).
CONSENTED_DAYS_AGO = 800


def consented_screening(*, site, by, **overrides):
    overrides.setdefault("screening_date", timezone.localdate() - timedelta(CONSENTED_DAYS_AGO))
    s = screening(site=site, by=by, **overrides)
    enrollment_services.record_consent(
        screening=s,
        data={
            "consented_at": timezone.now() - timedelta(days=CONSENTED_DAYS_AGO - 1),
            "form_version": "1.0",
            "obtained_by": by,
            "copy_given": True,
        },
        by=by,
    )
    return s


class ParticipantFactory(factory.django.DjangoModelFactory):
    """A randomized participant, made without a randomization list (for tests of later steps)."""

    class Meta:
        model = Participant

    site = factory.SubFactory(SiteFactory)
    participant_id = factory.Sequence(lambda n: f"P-{n:03d}")
    arm = "A"
    randomized_at = factory.LazyFunction(timezone.now)
    randomized_by = factory.SubFactory(UserFactory, username="randomizer")
    screening = factory.LazyAttribute(
        lambda o: consented_screening(site=o.site, by=o.randomized_by)
    )


class VisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visit

    participant = factory.SubFactory(ParticipantFactory)
    code = "M0"


def participant_with_visits(*, site, arm="A", by, **kwargs):
    """A randomized participant with the visit schedule created."""
    participant = ParticipantFactory(site=site, arm=arm, randomized_by=by, **kwargs)
    visit_services.create_visit_schedule(participant=participant, by=by)
    return participant


def lot(*, by, lot_number="SEC-001", volume="20.0", expires_in_days=180, **kwargs):
    today = timezone.localdate()
    data = {
        "lot_number": lot_number,
        "cell_source": "UCMSC",
        "manufactured_on": today - timedelta(days=10),
        "expires_on": today + timedelta(days=expires_in_days),
        "storage": "-80 °C",
        "volume_received_ml": Decimal(volume),
        **kwargs,
    }
    return visit_services.register_lot(data=data, by=by)


def released_lot(*, by, releaser, **kwargs):
    new_lot = lot(by=by, **kwargs)
    record_passing_release_tests(new_lot, on=timezone.localdate(), by=by)
    return visit_services.decide_lot_release(lot=new_lot, release=True, note="", by=releaser)
