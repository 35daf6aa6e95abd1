"""What the application's database role may do, and what the database itself refuses
(ASVS 4.0.3 V1.4 and V4.1.3: least privilege, enforced below the application)."""

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from enrollment import services as enrollment_services
from enrollment.models import Participant, RandomizationSlot
from monitoring.models import Document, ExportLog
from tests import factories
from tests.helpers import add_vas
from trialsite.audit.models import AuditEvent
from trialsite.crf import locking
from trialsite.crf.models import Lock

SAFE_PATH = "search_path=pg_catalog, pg_temp"


def _refused(sql, params=(), match="permission denied"):
    with (
        pytest.raises(DatabaseError, match=match),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)


def test_asvs_4_1_3_the_app_role_may_not_create_temporary_tables(db):
    _refused("CREATE TEMP TABLE monitoring_lock (id int)")


def test_asvs_1_4_1_every_function_of_ours_has_a_fixed_safe_search_path(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proname, proconfig FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
        )
        functions = cursor.fetchall()
    assert len(functions) >= 8
    unsafe = [name for name, config in functions if SAFE_PATH not in (config or [])]
    assert unsafe == []


@pytest.mark.django_db(transaction=True)
def test_a_temporary_table_named_like_the_lock_table_does_not_lift_a_lock(
    owner_connection, data_manager, coordinator, visit
):
    vas = add_vas(visit.participant, visit.code, 40, coordinator)
    locking.lock(reason="database lock for analysis", scope=Lock.Scope.STUDY, by=data_manager)
    owner_connection.autocommit = True
    # The owner may create temporary tables; even so the shadow is not read.
    owner_connection.execute("CREATE TEMP TABLE monitoring_lock (LIKE public.monitoring_lock)")
    owner_connection.execute("SET search_path = pg_temp, public")
    with pytest.raises(psycopg.Error, match="locked"):
        owner_connection.execute(
            "UPDATE public.outcomes_vaspain SET score_mm = 1 WHERE id = %s", [vas.pk]
        )


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO monitoring_lock (scope, table_name, row_pk, description, locked_by_id, "
        "locked_at, unlock_reason) VALUES ('study', '', '', 'x', 1, now(), '')",
        "UPDATE monitoring_lock SET unlocked_at = now(), unlock_reason = 'x'",
        "DELETE FROM monitoring_lock",
    ],
)
def test_asvs_4_1_3_the_app_role_changes_locks_only_through_the_owners_functions(data_manager, sql):
    locking.lock(reason="database lock for analysis", scope=Lock.Scope.STUDY, by=data_manager)
    _refused(sql)
    assert Lock.objects.active().count() == 1


def test_the_lock_functions_refuse_a_user_who_may_not_lock(coordinator, data_manager):
    _refused(
        "SELECT crf_lock('study', NULL, NULL, '', '', 'Whole study', 'analysis', %s)",
        [coordinator.pk],
        match="may not lock",
    )
    _refused(
        "SELECT crf_lock('study', NULL, NULL, '', '', 'Whole study', ' ', %s)",
        [data_manager.pk],
        match="reason is required to lock",
    )
    lock = locking.lock(
        reason="database lock for analysis", scope=Lock.Scope.STUDY, by=data_manager
    )
    _refused("SELECT crf_unlock(%s, 'x', %s)", [lock.pk, coordinator.pk], match="may not unlock")
    _refused("SELECT crf_unlock(%s, ' ', %s)", [lock.pk, data_manager.pk], match="reason")
    locking.unlock(lock=lock, reason="query answered", by=data_manager)
    lock.refresh_from_db()
    assert (lock.unlocked_by, lock.unlock_reason) == (data_manager, "query answered")
    event = AuditEvent.objects.filter(table_name="monitoring_lock", action="UPDATE").get()
    assert (event.user_id, event.reason) == (data_manager.pk, "query answered")


def test_randomization_slots_refuse_inserts_after_the_import(loaded_list):
    slot = RandomizationSlot.objects.order_by("pk").first()
    _refused(
        "INSERT INTO enrollment_randomizationslot "
        "(randomization_list_id, stratum, sequence, block, block_size, arm) "
        "VALUES (%s, %s, 999, 999, 2, 'A')",
        [loaded_list.pk, slot.stratum],
        match="slots were all imported",
    )


def _randomized(site, by):
    return enrollment_services.randomize_participant(
        screening=factories.consented_screening(site=site, by=by), by=by
    )


def _at_commit(sql, params=()):
    """Run `sql` and then the checks PostgreSQL defers to commit."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_participants_arm_cannot_leave_its_slots(loaded_list, lahore, coordinator):
    participant = _randomized(lahore, coordinator)
    other = "B" if participant.arm == "A" else "A"
    with pytest.raises(DatabaseError, match="arm of its slot"), transaction.atomic():
        _at_commit(
            "UPDATE enrollment_participant SET arm = %s WHERE id = %s", [other, participant.pk]
        )
    assert Participant.objects.get(pk=participant.pk).arm == participant.arm


def test_after_the_import_no_participant_is_committed_without_a_slot(loaded_list, lahore):
    with pytest.raises(DatabaseError, match="no randomization slot"), transaction.atomic():
        factories.ParticipantFactory(site=lahore, participant_id="LHR-090", arm="A")
        _at_commit("SELECT 1")


def test_a_slot_goes_only_to_a_participant_of_its_arm(loaded_list, lahore, coordinator):
    participant = _randomized(lahore, coordinator)
    free = RandomizationSlot.objects.filter(participant=None).exclude(arm=participant.arm).first()
    _refused(
        "UPDATE enrollment_randomizationslot SET participant_id = %s WHERE id = %s",
        [participant.pk, free.pk],
        match="another arm",
    )


def test_the_export_log_and_documents_are_audited(data_manager):
    log = ExportLog.objects.create(user=data_manager, by_name="dm", what="CSV export")
    document = Document.objects.create(
        kind=Document.Kind.CSV_EXPORT, key="k", title="CSV export", requested_by=data_manager
    )
    Document.objects.filter(pk=document.pk).update(progress_done=3, progress_total=9)
    Document.objects.filter(pk=document.pk).update(status=Document.Status.READY)
    assert AuditEvent.objects.filter(table_name="monitoring_exportlog", row_pk=str(log.pk))
    actions = list(
        AuditEvent.objects.filter(
            table_name="monitoring_document", row_pk=str(document.pk)
        ).values_list("action", "changed_fields")
    )
    # Progress counters are not worth a row; the change of status is.
    assert [a for a, _ in actions] == ["INSERT", "UPDATE"]
    assert actions[1][1] == ["status"]
    _refused("DELETE FROM monitoring_exportlog")  # the log is only ever added to
