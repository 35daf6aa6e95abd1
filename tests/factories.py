import factory
from django.contrib.auth.models import Group

from enrollment.models import Participant
from trialsite.accounts.models import User
from trialsite.sites.models import Site
from visits.models import Visit

PASSWORD = "correct-horse-battery-staple"


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
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def sites(self, create, extracted, **kwargs):
        if extracted:
            self.sites.add(*extracted)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    site = factory.SubFactory(SiteFactory)
    participant_id = factory.Sequence(lambda n: f"P-{n:03d}")


class VisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visit

    participant = factory.SubFactory(ParticipantFactory)
    code = "M0"
