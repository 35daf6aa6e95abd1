"""The lock pages: data managers lock and unlock the study, a participant, a visit or a form,
each with a reason and a confirmation; a locked form is shown read only with who locked it,
when and why, and a save from a page loaded before the lock keeps what was typed."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from playwright.sync_api import expect

from enrollment import services as enrollment_services
from enrollment.forms import SCREENING_FIELDS
from tests import factories, helpers
from tests.helpers import vas_post as post_data
from tests.helpers import vas_url as url
from trialsite.audit.models import AuditEvent
from trialsite.crf import locking
from trialsite.crf.models import Lock

pytestmark = pytest.mark.django_db


def test_a_save_from_a_page_loaded_before_the_lock_keeps_the_input(
    client, data_manager, coordinator, vas
):
    locking.lock(
        reason="database lock for analysis", scope="visit", visit=vas.visit, by=data_manager
    )
    client.force_login(coordinator)
    response = client.post(
        url(vas.visit),
        post_data(version=1, score_mm="61", mark_complete="on", reason_for_change="x"),
    )
    assert response.status_code == 400
    assert "locked by a data manager" in response.content.decode()
    assert response.context["form"]["score_mm"].value() == "61"


def test_a_data_manager_locks_and_unlocks_through_the_pages(client, data_manager, vas):
    client.force_login(data_manager)
    participant = vas.participant
    response = client.post(
        reverse("lock_new"),
        {"scope": "participant", "participant": participant.pk, "next": "/", "reason": " "},
    )
    assert not Lock.objects.exists()  # no reason, no lock
    assert "Give the reason for locking." in client.get("/").content.decode()
    response = client.post(
        reverse("lock_new"),
        {
            "scope": "participant",
            "participant": participant.pk,
            "next": f"/participants/{participant.pk}/",
            "reason": "all queries closed",
        },
    )
    assert response["Location"] == f"/participants/{participant.pk}/"
    lock = Lock.objects.get()
    assert lock.is_active and (lock.locked_by, lock.lock_reason) == (
        data_manager,
        "all queries closed",
    )
    event = AuditEvent.objects.get(table_name="monitoring_lock", row_pk=str(lock.pk))
    assert event.reason == "all queries closed"
    assert "Locked" in client.get(reverse("lock_list")).content.decode()
    response = client.post(reverse("lock_lift", args=[lock.pk]), {"reason": ""})
    assert response.status_code == 400 and response.context["form"].errors["reason"]
    client.post(reverse("lock_lift", args=[lock.pk]), {"reason": "monitor query resolved"})
    lock.refresh_from_db()
    assert not lock.is_active and lock.unlock_reason == "monitor query resolved"


def test_an_outside_next_address_is_not_followed(client, data_manager, vas):
    client.force_login(data_manager)
    response = client.post(
        reverse("lock_new"), {"scope": "study", "next": "https://evil.example/", "reason": "x"}
    )
    assert response["Location"] == reverse("lock_list")


@pytest.mark.parametrize("persona", ["coordinator", "monitor"])
def test_other_roles_cannot_lock_through_the_pages(request, client, vas, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.post(reverse("lock_new"), {"scope": "study", "reason": "x"}).status_code == 403
    assert not Lock.objects.exists()


def test_a_data_manager_cannot_lock_another_sites_participant(
    client, data_manager, islamabad, outsider
):
    other = factories.participant_with_visits(site=islamabad, by=outsider)
    client.force_login(data_manager)
    response = client.post(
        reverse("lock_new"), {"scope": "participant", "participant": other.pk, "reason": "x"}
    )
    assert response.status_code == 404
    assert not Lock.objects.exists()


def test_a_data_manager_locks_a_screening_form_which_stays_with_its_participant(
    client, data_manager, coordinator, study
):
    participant = study["A"]
    client.force_login(data_manager)
    client.post(
        reverse("lock_new"),
        {"scope": "record", "form": "screening", "pk": participant.screening_id, "reason": "x"},
    )
    lock = Lock.objects.get()
    assert (lock.table_name, lock.participant_id) == ("enrollment_screening", participant.pk)
    with pytest.raises(ValidationError, match="locked"):
        enrollment_services.update_screening(
            screening=participant.screening,
            data={"weight_kg": participant.screening.weight_kg + 1},
            version=participant.screening.version,
            reason="scale",
            by=data_manager,
        )
    client.force_login(coordinator)
    answers = {name: getattr(participant.screening, name) for name in SCREENING_FIELDS}
    post = {
        **helpers.as_post({**answers, "weight_kg": "99.0"}),
        "version": participant.screening.version,
        "reason_for_change": "scale",
    }
    response = client.post(reverse("screening_edit", args=[participant.screening_id]), post)
    assert response.status_code == 400
    assert "locked by a data manager" in response.content.decode()
    assert response.context["form"]["weight_kg"].value() == "99.0"


@pytest.mark.parametrize("scope", ["study", "participant", "visit", "record"])
def test_a_locked_form_is_read_only_and_says_who_locked_it_when_and_why(
    client, data_manager, coordinator, vas, scope
):
    locking.lock(
        reason="interim analysis",
        scope=scope,
        participant=vas.participant,
        visit=vas.visit,
        record=vas,
        by=data_manager,
    )
    client.force_login(coordinator)
    pages = [
        url(vas.visit),
        reverse("visit_detail", args=[vas.participant_id, vas.visit_id]),
        reverse("participant_detail", args=[vas.participant_id]),
    ]
    for page in pages:
        response = client.get(page)
        html = response.content.decode()
        covered = {"record": 1, "visit": 2}.get(scope, 3)  # the form, its visit, the participant
        if pages.index(page) >= covered:
            assert 'data-testid="lock-badge"' not in html, page
            continue
        assert 'data-testid="lock-badge"' in html, page
        assert f"by {data_manager.printed_name}" in html
        assert "“interim analysis”" in html
    visit_page = client.get(reverse("visit_detail", args=[vas.participant_id, vas.visit_id]))
    assert ('name="date"' in visit_page.content.decode()) == (scope == "record")  # no date entry
    participant_page = client.get(reverse("participant_detail", args=[vas.participant_id]))
    adds = "Add unscheduled visit" in participant_page.content.decode()
    assert adds == (scope in ("record", "visit"))  # nothing is added to a locked participant
    form = client.get(url(vas.visit)).context["form"]
    assert all(field.disabled for field in form.fields.values())
    html = client.get(url(vas.visit)).content.decode()
    assert 'name="save"' not in html and "Read only: locked." in html
    assert re.search(r'<select name="score_mm_missing"[^>]* disabled', html)


def test_an_unlocked_form_is_editable_again(client, data_manager, coordinator, vas):
    lock = locking.lock(reason="interim analysis", scope="visit", visit=vas.visit, by=data_manager)
    locking.unlock(lock=lock, reason="analysis done", by=data_manager)
    client.force_login(coordinator)
    html = client.get(url(vas.visit)).content.decode()
    assert 'data-testid="lock-badge"' not in html and 'name="save"' in html


@pytest.mark.e2e
def test_locking_and_unlocking_in_the_browser_ask_for_a_reason_and_a_confirmation(
    live_server, page, data_manager, vas
):
    helpers.log_in(page, live_server.url, data_manager.username)
    page.goto(live_server.url + url(vas.visit))
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.get_by_text("Lock this form…").click()
    page.get_by_label("Reason for locking").fill("source verified, query closed")
    page.once("dialog", lambda dialog: answer(dialog, False))
    page.get_by_role("button", name="Lock", exact=True).click()
    assert questions == [
        "Lock this form? Nobody can change its data until a data manager unlocks it."
    ]
    assert not Lock.objects.exists()  # dismissed: nothing locked
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.get_by_role("button", name="Lock", exact=True).click()
    expect(page.get_by_test_id("lock-badge")).to_contain_text("source verified, query closed")
    assert Lock.objects.get().lock_reason == "source verified, query closed"
    helpers.screenshot(page, "locked-form.png")
    page.get_by_role("link", name="Unlock…").click()
    page.get_by_label("Reason for unlocking").fill("late laboratory result")
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("Unlocked:")).to_be_visible()
    assert Lock.objects.get().unlock_reason == "late laboratory result"
    assert len(questions) == 3 and questions[2].startswith("Unlock ")
