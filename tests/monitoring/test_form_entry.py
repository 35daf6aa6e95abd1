"""The one view that enters any registered form of a visit or entry of a log: what it refuses,
where it goes after a save, and the conflict page of a log entry."""

import pytest

from safety import services as safety_services
from safety.models import AdverseEvent
from tests import helpers
from tests.helpers import ae_answers, ae_post, form_url

pytestmark = pytest.mark.django_db


def test_a_log_entry_is_saved_numbered_and_shown_on_its_page(client, coordinator, arm_a):
    client.force_login(coordinator)
    response = client.post(form_url("adverse_event", participant=arm_a), ae_post())
    ae = AdverseEvent.objects.get()
    assert ae.number == 1 and ae.created_by == coordinator
    assert response["Location"] == f"/adverse-events/{ae.pk}/"
    second = client.post(
        form_url("adverse_event", participant=arm_a), {**ae_post(), "save_exit": ""}
    )
    assert second["Location"] == f"/participants/{arm_a.pk}/"
    assert list(arm_a.adverse_events.order_by("number").values_list("number", flat=True)) == [1, 2]


def test_a_stale_log_entry_shows_both_values_and_keeps_the_users(client, coordinator, arm_a):
    ae = safety_services.report_adverse_event(participant=arm_a, data=ae_answers(), by=coordinator)
    url = form_url("adverse_event", participant=arm_a, number=ae.number)
    client.force_login(coordinator)
    first = ae_post(version=1, grade="2", reason_for_change="worse")
    assert client.post(url, first).status_code == 302
    stale = ae_post(version=1, grade="3", reason_for_change="much worse")
    response = client.post(url, stale)
    assert response.status_code == 409
    assert ("Severity (CTCAE v5 grade)", "3 – Severe or medically significant", "2 – Moderate") in [
        tuple(map(str, row)) for row in response.context["rows"]
    ]
    assert response.context["form"]["grade"].value() == "3"
    assert AdverseEvent.objects.get().grade == 2


@pytest.mark.parametrize(
    "url",
    [
        lambda p, v: form_url("adverse_event", visit=v),  # a log is not a form of a visit
        lambda p, v: form_url("vas_pain", participant=p),  # nor a visit's form a log
        lambda p, v: form_url("vas_pain", participant=p, number=1),
        lambda p, v: form_url("adverse_event", participant=p, number=7),  # no such entry
        lambda p, v: form_url("screening", visit=v),  # entered on its own page
        lambda p, v: form_url("no_such_form", visit=v),
        lambda p, v: form_url("womac", visit=helpers.visit(p, "W1")),  # not collected at W1
    ],
)
def test_what_the_view_does_not_enter_is_not_found(client, coordinator, arm_a, url):
    client.force_login(coordinator)
    assert client.get(url(arm_a, helpers.visit(arm_a, "M1"))).status_code == 404


def test_another_sites_participant_is_not_found(client, outsider, arm_a):
    client.force_login(outsider)
    assert client.get(form_url("vas_pain", visit=helpers.visit(arm_a, "M1"))).status_code == 404
    assert client.get(form_url("adverse_event", participant=arm_a)).status_code == 404


def test_a_role_that_may_only_read_sees_the_form_disabled_and_cannot_save(client, monitor, vas):
    client.force_login(monitor)
    url = form_url("vas_pain", visit=vas.visit)
    form = client.get(url).context["form"]
    assert all(field.disabled for field in form.fields.values())
    assert client.post(url, helpers.vas_post(version=1, score_mm="70")).status_code == 403
    assert client.get(form_url("adverse_event", participant=vas.participant)).status_code == 403
    vas.refresh_from_db()
    assert vas.score_mm == 40
