"""The audit trail: PostgreSQL triggers capture every write path, and nobody can alter it."""

import factory
import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import HttpResponse
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from enrollment.models import Participant
from outcomes.models import VasPain
from tests import factories
from tests.helpers import add_vas, change_vas, form_url
from trialsite.audit import context as audit
from trialsite.audit import selectors
from trialsite.audit.middleware import AuditContextMiddleware
from trialsite.audit.models import AuditEvent
from trialsite.crf.models import Audited
from trialsite.crf.services import save_crf
from visits.models import Visit

pytestmark = pytest.mark.django_db


def events_for(obj) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(table_name=obj._meta.db_table, row_pk=str(obj.pk)).order_by("id")
    )


def test_orm_insert_update_delete_are_recorded_with_user_reason_old_and_new(
    coordinator, participant
):
    with transaction.atomic(), audit.acting(by=coordinator):
        visit = Visit.objects.create(participant=participant, code="M3")
    with transaction.atomic(), audit.acting(by=coordinator, reason="date was mistyped"):
        visit.visit_date = timezone.localdate()
        visit.save()
    pk = visit.pk
    with transaction.atomic(), audit.acting(by=coordinator, reason="created in error"):
        visit.delete()

    inserted, updated, deleted = AuditEvent.objects.filter(
        table_name="visits_visit", row_pk=str(pk)
    ).order_by("id")
    assert inserted.action == "INSERT" and inserted.old_values is None
    assert inserted.new_values["code"] == "M3"
    assert inserted.user_id == coordinator.pk and inserted.username == "coordinator"
    assert inserted.participant_id == participant.pk

    assert updated.action == "UPDATE"
    assert updated.changed_fields == ["visit_date"]
    assert updated.changes() == [("visit_date", None, timezone.localdate().isoformat())]
    assert updated.reason == "date was mistyped"

    assert deleted.action == "DELETE" and deleted.new_values is None
    assert deleted.old_values["visit_date"] == timezone.localdate().isoformat()
    assert deleted.reason == "created in error"


def test_a_nested_service_does_not_take_over_the_outer_attribution(
    coordinator, investigator, participant
):
    with transaction.atomic(), audit.acting(by=coordinator, reason="outer"):
        with audit.acting(by=investigator, reason="inner"):
            inner = Visit.objects.create(participant=participant, code="M1")
        outer = Visit.objects.create(participant=participant, code="M3")
    assert (events_for(inner)[0].username, events_for(inner)[0].reason) == ("investigator", "inner")
    assert (events_for(outer)[0].username, events_for(outer)[0].reason) == ("coordinator", "outer")


def test_queryset_update_is_recorded_per_row(coordinator, participant):
    visits = factories.VisitFactory.create_batch(
        3, participant=participant, code=factory.Iterator(["M1", "M3", "M6"])
    )
    with transaction.atomic(), audit.acting(by=coordinator, reason="bulk correction"):
        Visit.objects.filter(participant=participant).update(visit_date=timezone.localdate())
    for visit in visits:
        last = events_for(visit)[-1]
        assert last.action == "UPDATE"
        assert last.changed_fields == ["visit_date"]
        assert last.reason == "bulk correction"
        assert last.username == "coordinator"


def test_bulk_create_is_recorded(participant):
    created = Visit.objects.bulk_create(
        [Visit(participant=participant, code="M9"), Visit(participant=participant, code="M12")]
    )
    for visit in created:
        assert [e.action for e in events_for(visit)] == ["INSERT"]


def test_raw_sql_is_recorded_and_attributed_to_the_database_role(participant):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO visits_visit"
            " (participant_id, code, sequence, missed_reason, unscheduled_reason)"
            " VALUES (%s, 'W1', 1, '', '') RETURNING id",
            [participant.pk],
        )
        (pk,) = cursor.fetchone()
        cursor.execute("UPDATE visits_visit SET visit_date = '2026-01-05' WHERE id = %s", [pk])
    insert, update = AuditEvent.objects.filter(table_name="visits_visit", row_pk=str(pk))
    assert insert.action == "INSERT" and update.action == "UPDATE"
    assert update.old_values["visit_date"] is None
    assert update.new_values["visit_date"] == "2026-01-05"
    assert update.user_id is None
    assert update.db_role == "trialsite_app"


def test_a_write_made_through_a_page_is_attributed_to_the_logged_in_user(
    client, coordinator, visit
):
    client.force_login(coordinator)
    response = client.post(
        form_url("vas_pain", visit=visit),
        {
            "version": 0,
            "assessed_at": "2026-01-10T10:00",
            "knee": "R",
            "score_mm": 42,
            "method": "paper",
        },
    )
    assert response.status_code == 302
    crf = VasPain.objects.get(visit=visit)
    (event,) = events_for(crf)
    assert event.username == "coordinator" and event.user_id == coordinator.pk
    assert event.new_values["score_mm"] == 42


def test_password_hashes_stay_out_of_the_trail(coordinator):
    coordinator.set_password("another-long-password-1")
    coordinator.save()
    for event in AuditEvent.objects.filter(table_name="accounts_user", row_pk=str(coordinator.pk)):
        assert "password" not in (event.new_values or {})
        assert "password" not in (event.old_values or {})


def test_role_changes_are_recorded(coordinator):
    events = AuditEvent.objects.filter(table_name="accounts_user_groups")
    assert events.filter(new_values__user_id=coordinator.pk).exists()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_event SET reason = 'tampered'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
        "INSERT INTO audit_event (table_name, action) VALUES ('forged', 'INSERT')",
        "DROP TRIGGER audit_row ON visits_visit",
        "ALTER TABLE audit_event DISABLE TRIGGER audit_event_immutable",
    ],
)
def test_the_application_role_cannot_alter_the_trail(visit, sql):
    assert AuditEvent.objects.exists()
    with pytest.raises(DatabaseError) as error, transaction.atomic(), connection.cursor() as c:
        c.execute(sql)
    assert "permission denied" in str(error.value) or "must be owner" in str(error.value)


@pytest.mark.django_db(transaction=True)
def test_even_the_table_owner_cannot_update_or_delete_audit_rows(visit, owner_connection):
    """The immutability triggers refuse the owner too, not only the app role's grants."""
    assert connection.settings_dict["USER"] == settings.DATABASE_APP_ROLE
    for sql in ("UPDATE audit_event SET reason = 'x'", "DELETE FROM audit_event"):
        with pytest.raises(psycopg.Error, match="cannot be changed or deleted"):
            owner_connection.execute(sql)
        owner_connection.rollback()


def test_every_audited_model_has_the_audit_trigger():
    audited = [m for m in apps.get_models() if issubclass(m, Audited) and not m._meta.abstract]
    assert {m._meta.label for m in audited} >= {
        "enrollment.Participant",
        "visits.Visit",
        "outcomes.VasPain",
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'audit_row'"
        )
        triggered = {row[0] for row in cursor.fetchall()}
    missing = [m._meta.label for m in audited if m._meta.db_table not in triggered]
    assert missing == []


def test_a_crf_save_records_version_and_reason(coordinator, visit):
    data = {
        "assessed_at": timezone.now(),
        "knee": "L",
        "score_mm": 30,
        "method": "paper",
    }
    crf = save_crf(
        crf_class=VasPain, visit=visit, data=data, version=0, complete=True, by=coordinator
    )
    save_crf(
        crf_class=VasPain,
        visit=visit,
        data={**data, "score_mm": 35},
        version=crf.version,
        complete=True,
        reason="transcription error",
        by=coordinator,
    )
    update = events_for(crf)[-1]
    assert update.reason == "transcription error"
    assert update.changes()[-1] == ("version", 1, 2)
    assert ("score_mm", 30, 35) in update.changes()


def test_a_request_names_its_user_only_for_writes_made_outside_a_service(
    rf, coordinator, investigator, visit
):
    """The middleware sets the logged-in user before the first write made outside
    `audit.acting()`; a service's writes keep the user the service names, without the
    session's user being set first (a round trip fewer for every save)."""

    def view(request):
        with (
            CaptureQueriesContext(connection) as service,
            transaction.atomic(),
            audit.acting(by=investigator, reason="reviewed"),
        ):
            Visit.objects.filter(pk=visit.pk).update(unscheduled_reason="by the service")
        assert not any("false)" in q["sql"] for q in service.captured_queries)
        Visit.objects.filter(pk=visit.pk).update(unscheduled_reason="by the page")
        return HttpResponse()

    request = rf.post("/")
    request.user = coordinator
    AuditContextMiddleware(view)(request)
    service, page = AuditEvent.objects.filter(
        table_name="visits_visit", row_pk=str(visit.pk), action="UPDATE"
    ).order_by("id")
    assert (service.username, service.reason) == (investigator.username, "reviewed")
    assert (page.username, page.reason) == (coordinator.username, None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('trialsite.user_id', true)")
        assert cursor.fetchone()[0] in ("", None)  # cleared after the request


@pytest.mark.parametrize("window", [selectors.RECENT_ROWS, 0])
def test_the_latest_rows_of_many_participants_are_the_newest_whichever_participants_hold_them(
    coordinator, monkeypatch, window
):
    """With the study's latest rows read first (`window`) or each participant's (0 rows: the
    fallback), the newest rows are found where one participant holds most of them and the
    others hold one each."""
    monkeypatch.setattr(selectors, "RECENT_ROWS", window)
    site = coordinator.sites.get()
    busy, *others = [factories.participant_with_visits(site=site, by=coordinator) for _ in range(4)]
    vas = add_vas(busy, "M1", 40, coordinator)
    for score in (41, 42, 43):
        vas = change_vas(vas, coordinator, score=score)
    for other in others:
        add_vas(other, "M1", 30, coordinator)
    participants = Participant.objects.filter(site=site)
    every = AuditEvent.objects.filter(participant_id__in=participants.values("pk")).order_by("-id")

    for count in (2, 5, 9):
        found = selectors.recent_events(participants, coordinator, count)
        assert [e.pk for e in found] == list(every.values_list("pk", flat=True)[:count])
