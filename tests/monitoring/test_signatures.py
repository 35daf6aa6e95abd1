"""Visit and casebook e-signatures: password, printed name and meaning, bound to the data."""

import hashlib
import io
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse

from enrollment import services as enrollment_services
from monitoring import signatures
from monitoring.models import Signature
from outcomes.models import Mri, SynovialBiomarkers, VasPain, Womac, Xray
from safety import services as safety_services
from safety.models import AdverseEvent
from tests import factories, helpers
from tests.helpers import ae_answers, change_vas
from trialsite.crf import registry
from visits import services as visit_services
from visits.models import Injection, PrgfPreparation, Visit

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


def test_a_casebook_signature_covers_every_registered_form(investigator, coordinator, study):
    participant = study["B"]
    helpers.end_study(participant, coordinator)
    signature = signatures.sign(
        participant=participant, password=factories.PASSWORD, by=investigator
    )
    assert signature.hash_version == signatures.CURRENT_VERSION
    covered = {table for table, _ in signatures.signed_data(participant)}
    assert covered == {f.table for f in registry.forms()}
    screening = participant.screening
    enrollment_services.update_screening(
        screening=screening,
        data={"weight_kg": screening.weight_kg + 1},
        version=screening.version,
        reason="scale recalibrated",
        by=coordinator,
    )
    assert not signatures.is_valid(signature)


def test_a_visit_signature_covers_the_visit_itself(investigator, coordinator, study):
    visit = helpers.visit(study["A"], "M1")
    signature = signatures.sign(
        participant=study["A"], visit=visit, password=factories.PASSWORD, by=investigator
    )
    visit_services.record_missed_visit(visit=visit, reason="travelling", by=coordinator)
    assert not signatures.is_valid(signature)


def _hash_before_the_registry(participant, visit=None) -> str:
    """The rule signatures were made with before the form registry: the visit and its seven
    CRFs (for a casebook every visit, then the adverse events), written out here as it was."""
    models = [VasPain, Womac, SynovialBiomarkers, Xray, Mri, Injection, PrgfPreparation]

    def values(obj):
        return {f.attname: obj.serializable_value(f.name) for f in obj._meta.concrete_fields}

    visits = [visit] if visit is not None else list(Visit.objects.filter(participant=participant))
    records = []
    for v in sorted(visits, key=lambda v: v.pk):
        records.append(["visits_visit", values(v)])
        for model in models:
            for crf in model.objects.filter(visit=v).order_by("pk"):
                records.append([model._meta.db_table, values(crf)])
    if visit is None:
        for ae in AdverseEvent.objects.filter(participant=participant).order_by("pk"):
            records.append(["safety_adverseevent", values(ae)])
    canonical = json.dumps(records, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_signatures_made_before_the_registry_stay_valid_until_their_data_change(
    coordinator, investigator, study
):
    participant = study["B"]
    m0 = helpers.visit(participant, "M0")
    earlier = [
        Signature.objects.create(
            participant=participant,
            visit=visit,
            printed_name="Investigator Tester",
            signed_by=investigator,
            data_hash=_hash_before_the_registry(participant, visit),
            hash_version=1,
        )
        for visit in (m0, None)
    ]
    assert all(signatures.is_valid(s) for s in earlier)
    # A form that version 1 did not cover leaves them valid ...
    screening = participant.screening
    enrollment_services.update_screening(
        screening=screening,
        data={"weight_kg": screening.weight_kg + 1},
        version=screening.version,
        reason="scale recalibrated",
        by=coordinator,
    )
    assert all(signatures.is_valid(s) for s in earlier)
    # ... a form it covered does not.
    change_vas(VasPain.objects.get(visit=m0), coordinator, score=12)
    assert not any(signatures.is_valid(s) for s in earlier)


def test_signatures_of_version_3_stay_valid_when_forms_added_by_version_4_are_entered(
    coordinator, investigator, study
):
    """Version 4 covers concomitant medications, protocol deviations and the end of study;
    a casebook signed before them is not invalidated by entering them."""
    participant = study["A"]
    made = {
        version: Signature.objects.create(
            participant=participant,
            printed_name="Investigator Tester",
            signed_by=investigator,
            data_hash=signatures.data_hash(participant, None, version=version),
            hash_version=version,
        )
        for version in (3, 4)
    }
    assert all(signatures.is_valid(s) for s in made.values())
    helpers.add_medication(participant, coordinator, drug_name="Metformin", atc_code="")
    helpers.end_study(participant, coordinator)
    assert signatures.is_valid(made[3])
    assert not signatures.is_valid(made[4])
    # Version 3 still covers what it covered.
    change_vas(VasPain.objects.get(visit=helpers.visit(participant, "M1")), coordinator, score=9)
    assert not signatures.is_valid(made[3])


def test_rotating_the_audit_key_moves_valid_signatures_to_the_new_key(
    investigator, coordinator, visit, settings
):
    from django.core.management import call_command

    from trialsite.audit import chain
    from trialsite.audit.models import AuditEvent

    vas = helpers.add_vas(visit.participant, visit.code, 40, coordinator)
    kept = signatures.sign(
        participant=visit.participant, visit=visit, password=factories.PASSWORD, by=investigator
    )
    casebook = signatures.sign(
        participant=visit.participant, password=factories.PASSWORD, by=investigator
    )
    change_vas(vas, coordinator, score=41)  # both invalidated by this change...
    kept.data_hash = signatures.data_hash(visit.participant, visit)  # ...this one signed again
    Signature.objects.filter(pk=kept.pk).update(data_hash=kept.data_hash)
    helpers.rotate_audit_key(settings)
    assert not signatures.is_valid(Signature.objects.get(pk=kept.pk))  # before the command

    out = io.StringIO()
    call_command("rotate_audit_key", stdout=out)
    assert signatures.is_valid(Signature.objects.get(pk=kept.pk))
    assert not signatures.is_valid(Signature.objects.get(pk=casebook.pk))  # still invalidated
    text = out.getvalue()
    assert "signatures moved from key 1 to key 2: 1" in text
    assert f"signature {casebook.pk} was not valid under key 1" in text
    assert "sealed under key 2" in text and text.rstrip().endswith("intact: True")
    rekeyed = AuditEvent.objects.filter(
        table_name="monitoring_signature", reason="audit key rotated"
    )
    assert list(rekeyed.values_list("row_pk", "action")) == [(str(kept.pk), "UPDATE")]
    assert chain.verify().ok


def test_rotate_audit_key_needs_the_retired_key(settings):
    from django.core.management import CommandError, call_command

    settings.AUDIT_HMAC_KEY_ID = 2  # raised, but the previous key not listed as retired
    with pytest.raises(CommandError, match="No retired key numbered below 2"):
        call_command("rotate_audit_key")
