"""The participant's page: every form of the participant, read in a fixed number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from safety import services as safety_services
from tests.helpers import ae_answers
from visits import services as visit_services

pytestmark = pytest.mark.django_db


def test_the_page_shows_every_form_and_its_queries_do_not_grow(client, coordinator, study):
    participant = study["B"]
    client.force_login(coordinator)
    page = reverse("participant_detail", args=[participant.pk])
    client.get(page)  # the session's first request stamps it
    with CaptureQueriesContext(connection) as few:
        html = client.get(page).content.decode()
    for title in ("Screening", "Informed consent", "Randomization", "PRGF preparation"):
        assert title in html
    assert "Knee swelling" in html  # the adverse event log
    for n in range(3):
        visit_services.add_unscheduled_visit(
            participant=participant,
            visit_date=timezone.localdate(),
            reason=f"flare {n}",
            by=coordinator,
        )
        safety_services.report_adverse_event(
            participant=participant,
            data=ae_answers(verbatim_term=f"Flare {n}", relationship_prgf="unlikely"),
            by=coordinator,
        )
    with CaptureQueriesContext(connection) as many:
        html = client.get(page).content.decode()
    assert "Flare 2" in html and "UNS 3" in html
    assert len(many) == len(few)
