"""Visit and casebook e-signatures: password, printed name and meaning, bound to the data."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse

from monitoring import signatures
from monitoring.models import Signature
from safety import services as safety_services
from tests import factories
from tests.helpers import ae_answers, change_vas

pytestmark = pytest.mark.django_db


def test_a_visit_signature_is_valid_until_its_data_change(investigator, coordinator, vas):
    signature = signatures.sign(
        participant=vas.participant, visit=vas.visit, password=factories.PASSWORD, by=investigator
    )
    assert signature.printed_name == "Investigator Tester"
    assert signature.meaning == "Reviewed and approved"
    assert signatures.is_valid(signature)
    change_vas(vas, coordinator)
    assert not signatures.is_valid(signature)


def test_a_change_by_raw_sql_invalidates_it_too(investigator, vas):
    signature = signatures.sign(
        participant=vas.participant, visit=vas.visit, password=factories.PASSWORD, by=investigator
    )
    with connection.cursor() as cursor:
        cursor.execute("UPDATE outcomes_vaspain SET knee = 'L' WHERE id = %s", [vas.pk])
    assert not signatures.is_valid(signature)


def test_a_casebook_signature_covers_adverse_events(investigator, coordinator, vas):
    participant = vas.participant
    signature = signatures.sign(
        participant=participant, password=factories.PASSWORD, by=investigator
    )
    assert signatures.is_valid(signature)
    safety_services.report_adverse_event(participant=participant, data=ae_answers(), by=coordinator)
    assert not signatures.is_valid(signature)


def test_only_investigators_sign_and_only_with_their_password(coordinator, investigator, vas):
    with pytest.raises(PermissionDenied):
        signatures.sign(participant=vas.participant, password=factories.PASSWORD, by=coordinator)
    with pytest.raises(ValidationError):
        signatures.sign(participant=vas.participant, password="guess", by=investigator)
    assert not Signature.objects.exists()


def test_signing_through_the_visit_page_and_the_invalidation_shows(
    client, investigator, coordinator, vas
):
    page = reverse("visit_detail", args=[vas.participant_id, vas.visit_id])
    client.force_login(investigator)
    client.post(
        reverse("sign_records", args=[vas.participant_id]),
        {"visit": vas.visit_id, "password": factories.PASSWORD, "next": page},
    )
    html = client.get(page).content.decode()
    section = html[html.index('data-testid="signatures"') :]
    assert "<title>" not in section.split("</section>")[0]
    assert "Valid</span>" in section and "Investigator Tester" in section
    change_vas(vas, coordinator)
    html = client.get(page).content.decode()
    section = html[html.index('data-testid="signatures"') :]
    assert "Invalidated: data changed after signing" in section
    assert html.index("</title>") < html.index('data-testid="signatures"')
    client.force_login(coordinator)
    response = client.post(reverse("sign_records", args=[vas.participant_id]), {"password": "x"})
    assert response.status_code == 403
