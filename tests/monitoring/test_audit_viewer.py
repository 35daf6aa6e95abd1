"""The audit viewer: who changed what, old → new, when and why; filters and CSV."""

import csv
import io

import pytest
from django.urls import reverse

from enrollment.models import Participant
from outcomes.models import VasPain
from tests import factories
from tests.helpers import add_vas, change_vas
from tests.helpers import vas_post as post_data
from tests.helpers import vas_url as url
from trialsite.audit import selectors as audit_selectors
from trialsite.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(client, coordinator, visit):
    client.force_login(coordinator)
    client.post(url(visit), post_data(score_mm="40", mark_complete="on"))
    client.post(
        url(visit),
        post_data(version=1, score_mm="44", mark_complete="on", reason_for_change="misread ruler"),
    )
    client.logout()
    return VasPain.objects.get(visit=visit)


def test_a_crf_history_shows_old_new_who_and_why(client, monitor, history):
    client.force_login(monitor)
    response = client.get(reverse("record_audit", args=["vas-pain", history.pk]))
    lines = response.context["lines"]
    change = next(line for line in lines if line.field == "score_mm" and line.old == 40)
    assert (change.new, change.label, change.event.reason) == (44, "VAS pain (mm)", "misread ruler")
    assert change.event.username == "coordinator"
    assert all(line.field not in ("version", "modified_at") for line in lines)


def test_the_participant_trail_includes_screening_and_consent(client, monitor, history):
    client.force_login(monitor)
    response = client.get(reverse("participant_audit", args=[history.participant_id]))
    tables = {line.event.table_name for line in response.context["lines"]}
    assert {"outcomes_vaspain", "enrollment_screening", "enrollment_consent"} <= tables


def test_filters_and_csv(client, monitor, history):
    client.force_login(monitor)
    page = reverse("participant_audit", args=[history.participant_id])
    only = client.get(page, {"table": "outcomes_vaspain", "field": "score_mm"}).context["lines"]
    assert [(line.old, line.new) for line in only] == [(40, 44), (None, 40)]
    assert client.get(page, {"user": "nobody"}).context["lines"] == []
    response = client.get(page, {"table": "outcomes_vaspain", "field": "score_mm", "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["When (UTC)", "User", "Action", "Record", "Field", "Old", "New", "Reason"]
    assert rows[1][1:] == [
        "coordinator",
        "Changed",
        f"VAS pain #{history.pk}",
        "VAS pain (mm)",
        "40",
        "44",
        "misread ruler",
    ]


def test_roles_without_the_audit_permission_and_other_sites_are_refused(
    client, coordinator, outsider, monitor, history
):
    page = reverse("participant_audit", args=[history.participant_id])
    client.force_login(coordinator)
    assert client.get(page).status_code == 403
    outsider.user_permissions.add(*monitor.groups.get().permissions.all())
    client.force_login(outsider)
    assert client.get(page).status_code == 404
    assert client.get(reverse("record_audit", args=["vas-pain", history.pk])).status_code == 404
    client.force_login(monitor)
    assert client.get(reverse("record_audit", args=["lock", 1])).status_code == 404
    assert client.get(reverse("record_audit", args=["nothing", 1])).status_code == 404


@pytest.mark.parametrize("window", [audit_selectors.RECENT_ROWS, 5])
def test_the_home_page_shows_the_latest_changes_at_the_users_sites_however_old(
    client, monitor, coordinator, outsider, islamabad, monkeypatch, window
):
    """Read from the study's latest rows, or, when the site's latest are older than those
    (`window`: the rows of another site fill it), from each participant's latest changes by
    index, then the latest of them: the same changes either way."""
    monkeypatch.setattr(audit_selectors, "RECENT_ROWS", window)
    ours = [factories.participant_with_visits(site=monitor.sites.get(), by=coordinator)]
    ours.append(factories.participant_with_visits(site=monitor.sites.get(), by=coordinator))
    vas = add_vas(ours[0], "M1", 40, coordinator)
    change_vas(vas, coordinator)
    theirs = factories.participant_with_visits(site=islamabad, by=outsider)
    for code in ("M0", "M1", "M3"):
        add_vas(theirs, code, 50, outsider)  # newer than every change at the monitor's site
    expected = list(
        AuditEvent.objects.filter(
            participant_id__in=Participant.objects.filter(site__in=monitor.sites.all())
        )
        .order_by("-id")
        .values_list("pk", flat=True)[:10]
    )

    client.force_login(monitor)
    shown = [event.pk for event, _ in client.get(reverse("home")).context["recent_changes"]]
    assert shown == expected and len(shown) == 10
    assert not AuditEvent.objects.filter(pk__in=shown, participant_id=theirs.pk).exists()
