"""Site isolation: users see only their own sites' participants and data."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from outcomes.models import VasPain
from tests import factories
from tests.helpers import vas_post as post_data
from tests.helpers import vas_url as url
from trialsite.audit.models import AuditEvent
from trialsite.sites.models import Site

pytestmark = pytest.mark.django_db


def test_the_participant_list_shows_only_the_users_sites(
    client, coordinator, outsider, participant, islamabad
):
    other = factories.ParticipantFactory(site=islamabad, participant_id="ISB-001")
    client.force_login(coordinator)
    listed = list(client.get(reverse("participant_list")).context["page"].rows)
    assert listed == [participant]
    client.force_login(outsider)
    listed = list(client.get(reverse("participant_list")).context["page"].rows)
    assert listed == [other]


def test_another_sites_participant_and_crfs_are_not_found(client, outsider, visit):
    client.force_login(outsider)
    assert client.get(reverse("participant_detail", args=[visit.participant_id])).status_code == 404
    assert client.get(url(visit)).status_code == 404
    assert client.post(url(visit), post_data()).status_code == 404
    assert not VasPain.objects.filter(visit=visit).exists()


def test_a_user_at_two_sites_sees_both(client, monitor, islamabad, participant):
    other = factories.ParticipantFactory(site=islamabad, participant_id="ISB-002")
    monitor.sites.add(islamabad)
    client.force_login(monitor)
    listed = set(client.get(reverse("participant_list")).context["page"].rows)
    assert listed == {participant, other}


def test_the_home_page_counts_only_the_users_sites(client, coordinator, participant, islamabad):
    factories.ParticipantFactory(site=islamabad)
    client.force_login(coordinator)
    assert client.get(reverse("home")).context["participant_count"] == 1


def test_times_are_shown_in_the_sites_zone(client, coordinator, visit):
    import datetime

    client.force_login(coordinator)
    client.post(url(visit), post_data(assessed_at="2026-01-10T10:00"))
    crf = VasPain.objects.get(visit=visit)
    # Entered as 10:00 in Lahore (UTC+5), stored as 05:00 UTC.
    assert crf.assessed_at.astimezone(datetime.UTC).hour == 5
    html = client.get(url(visit)).content.decode()
    assert 'value="2026-01-10 10:00"' in html


def test_add_site_adds_an_audited_site_and_refuses_bad_input():
    out = io.StringIO()
    call_command("add_site", "khi", "Karachi site", stdout=out)
    site = Site.objects.get(code="KHI")
    assert (site.name, site.time_zone) == ("Karachi site", "Asia/Karachi")
    assert "site added: KHI – Karachi site (Asia/Karachi)" in out.getvalue()
    event = AuditEvent.objects.get(table_name="sites_site", row_pk=str(site.pk))
    assert event.reason.startswith("added on the command line")
    with pytest.raises(CommandError, match="already exists"):
        call_command("add_site", "KHI", "Again")
    with pytest.raises(CommandError, match="not a known time zone"):
        call_command("add_site", "QTA", "Quetta", "--time-zone", "Mars/Base")
    assert Site.objects.count() == 1
