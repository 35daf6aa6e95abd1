"""The lock pages: data managers lock and unlock the study, a participant, a visit or a form;
a locked form says so and keeps what was typed."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from enrollment import services as enrollment_services
from enrollment.forms import SCREENING_FIELDS
from tests import factories, helpers
from tests.helpers import vas_post as post_data
from tests.helpers import vas_url as url
from trialsite.crf import locking
from trialsite.crf.models import Lock

pytestmark = pytest.mark.django_db


def test_the_locked_page_says_so_and_keeps_the_input(client, data_manager, coordinator, vas):
    locking.lock(scope="visit", visit=vas.visit, by=data_manager)
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
        {
            "scope": "participant",
            "participant": participant.pk,
            "next": f"/participants/{participant.pk}/",
        },
    )
    assert response["Location"] == f"/participants/{participant.pk}/"
    lock = Lock.objects.get()
    assert lock.is_active and lock.locked_by == data_manager
    assert "Locked" in client.get(reverse("lock_list")).content.decode()
    response = client.post(reverse("lock_lift", args=[lock.pk]), {"reason": ""})
    assert response.status_code == 400 and response.context["form"].errors["reason"]
    client.post(reverse("lock_lift", args=[lock.pk]), {"reason": "monitor query resolved"})
    lock.refresh_from_db()
    assert not lock.is_active and lock.unlock_reason == "monitor query resolved"


def test_an_outside_next_address_is_not_followed(client, data_manager, vas):
    client.force_login(data_manager)
    response = client.post(reverse("lock_new"), {"scope": "study", "next": "https://evil.example/"})
    assert response["Location"] == reverse("lock_list")


@pytest.mark.parametrize("persona", ["coordinator", "monitor"])
def test_other_roles_cannot_lock_through_the_pages(request, client, vas, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.post(reverse("lock_new"), {"scope": "study"}).status_code == 403
    assert not Lock.objects.exists()


def test_a_data_manager_cannot_lock_another_sites_participant(
    client, data_manager, islamabad, outsider
):
    other = factories.participant_with_visits(site=islamabad, by=outsider)
    client.force_login(data_manager)
    response = client.post(reverse("lock_new"), {"scope": "participant", "participant": other.pk})
    assert response.status_code == 404
    assert not Lock.objects.exists()


def test_a_data_manager_locks_a_screening_form_which_stays_with_its_participant(
    client, data_manager, coordinator, study
):
    participant = study["A"]
    client.force_login(data_manager)
    client.post(
        reverse("lock_new"),
        {"scope": "record", "form": "screening", "pk": participant.screening_id},
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
