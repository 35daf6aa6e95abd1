"""Locks: nobody changes locked data, through services, pages, the admin or raw SQL."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from enrollment import services as enrollment_services
from outcomes.models import VasPain
from safety import services as safety_services
from tests import factories
from tests.helpers import ae_answers, change_vas
from trialsite.audit.models import AuditEvent
from trialsite.crf import locking
from trialsite.crf.models import Lock
from visits import services as visit_services
from visits.models import Visit

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("scope", ["study", "participant", "visit", "record"])
def test_locked_data_is_refused_by_the_service_and_the_database(
    data_manager, coordinator, vas, scope
):
    locking.lock(
        reason="database lock for analysis",
        scope=scope,
        participant=vas.participant,
        visit=vas.visit,
        record=vas,
        by=data_manager,
    )
    with pytest.raises(ValidationError, match="locked by a data manager"):
        change_vas(vas, coordinator)
    with pytest.raises(DatabaseError, match="locked"), transaction.atomic():
        VasPain.objects.filter(pk=vas.pk).update(score_mm=99)
    with (
        pytest.raises(DatabaseError, match="locked"),
        transaction.atomic(),
        connection.cursor() as c,
    ):
        c.execute("DELETE FROM outcomes_vaspain WHERE id = %s", [vas.pk])
    vas.refresh_from_db()
    assert vas.score_mm == 40


def test_a_record_lock_leaves_the_rest_of_the_participant_open(data_manager, coordinator, vas):
    locking.lock(reason="database lock for analysis", scope="record", record=vas, by=data_manager)
    m3 = factories.VisitFactory(participant=vas.participant, code="M3")
    visit_services.record_visit(visit=m3, visit_date=timezone.localdate(), by=coordinator)
    assert Visit.objects.get(pk=m3.pk).visit_date == timezone.localdate()


def test_a_locked_participant_refuses_visits_adverse_events_and_screening_changes(
    data_manager, coordinator, arm_a
):
    locking.lock(
        reason="database lock for analysis", scope="participant", participant=arm_a, by=data_manager
    )
    m1 = Visit.objects.get(participant=arm_a, code="M1")
    with pytest.raises(ValidationError, match="locked"):
        visit_services.record_visit(visit=m1, visit_date=timezone.localdate(), by=coordinator)
    with pytest.raises(ValidationError, match="locked"):
        safety_services.report_adverse_event(participant=arm_a, data=ae_answers(), by=coordinator)
    with pytest.raises(DatabaseError, match="locked"), transaction.atomic():
        type(arm_a.screening).objects.filter(pk=arm_a.screening_id).update(vas_index_knee_mm=1)


def test_the_admin_cannot_change_locked_data_either(data_manager, vas):
    # The admin offers no clinical models; and any write path ends at the database trigger.
    assert VasPain not in admin.site._registry
    locking.lock(reason="database lock for analysis", scope="study", by=data_manager)
    with pytest.raises(DatabaseError, match="locked"), transaction.atomic():
        vas.score_mm = 12
        vas.save()


def test_unlocking_needs_a_reason_and_is_audited(data_manager, coordinator, vas):
    lock = locking.lock(
        reason="database lock for analysis",
        scope="participant",
        participant=vas.participant,
        by=data_manager,
    )
    with pytest.raises(ValidationError):
        locking.unlock(lock=lock, reason=" ", by=data_manager)
    locking.unlock(lock=lock, reason="query answered after lock", by=data_manager)
    change_vas(vas, coordinator)  # open again
    event = AuditEvent.objects.filter(table_name="monitoring_lock", row_pk=str(lock.pk)).last()
    assert event.reason == "query answered after lock" and event.username == "datamanager"
    with pytest.raises(ValidationError, match="already lifted"):
        locking.unlock(lock=lock, reason="again", by=data_manager)


@pytest.mark.parametrize("persona", ["coordinator", "monitor", "investigator"])
def test_only_data_managers_lock(request, persona, vas):
    with pytest.raises(PermissionDenied):
        locking.lock(
            reason="database lock for analysis", scope="study", by=request.getfixturevalue(persona)
        )
    assert not Lock.objects.exists()


def test_a_locked_study_refuses_randomization(data_manager, coordinator, lahore):
    screening = factories.consented_screening(site=lahore, by=coordinator)
    locking.lock(reason="database lock for analysis", scope="study", by=data_manager)
    with pytest.raises(ValidationError, match="locked"):
        enrollment_services.randomize_participant(screening=screening, by=coordinator)


def test_every_table_with_participant_data_has_the_lock_trigger():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'locked_row'"
        )
        protected = {row[0] for row in cursor.fetchall()}
    exempt = {
        "enrollment_randomizationslot",  # locked on its own (list lock)
        "visits_lottransaction",  # stock accounting goes on
        "monitoring_lock",
        "monitoring_sourceverification",  # verifying does not change data
        "monitoring_dataquery",  # queries document locked data, they do not change it
        "monitoring_signature",  # signing does not change data
    }
    with_participant = {
        m._meta.db_table
        for m in apps.get_models()
        if any(f.name == "participant" for f in m._meta.fields) and m._meta.managed
    }
    assert with_participant - exempt - protected == set()
