"""Audit rows counted ahead of time (trialsite/audit/settled.py) give the trail's true count,
before and after the counts move on, with a transaction open meanwhile, and count each row
once."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Max

from monitoring.documents import NOT_STUDY_DATA
from tests.helpers import add_vas, change_vas
from trialsite.audit import settled
from trialsite.audit.models import AuditEvent
from trialsite.audit.tasks import seal_audit_trail

pytestmark = pytest.mark.django_db(transaction=True)


def _counted(excluding=NOT_STUDY_DATA) -> tuple[int, int]:
    found = AuditEvent.objects.exclude(table_name__in=excluding).aggregate(
        n=Count("id"), m=Max("id")
    )
    return found["n"], found["m"] or 0


def _settled_by_table() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name, rows FROM audit_settled")
        return dict(cursor.fetchall())


def test_the_count_is_the_trails_before_and_after_it_is_settled(coordinator, visit):
    assert settled.rows_and_last(excluding=NOT_STUDY_DATA) == _counted()
    vas = add_vas(visit.participant, visit.code, 40, coordinator)
    assert settled.rows_and_last(excluding=NOT_STUDY_DATA) == _counted()
    seal_audit_trail()  # the task that moves the counts on
    change_vas(vas, coordinator, score=30)
    assert settled.rows_and_last(excluding=NOT_STUDY_DATA) == _counted()
    assert settled.rows_and_last(excluding=()) == _counted(excluding=())
    settled.settle()
    by_table = _settled_by_table()
    assert (
        by_table["outcomes_vaspain"]
        == AuditEvent.objects.filter(table_name="outcomes_vaspain").count()
    )
    assert sum(by_table.values()) == AuditEvent.objects.count()  # every row counted, once
    assert settled.rows_and_last(excluding=("outcomes_vaspain",)) == _counted(
        excluding=("outcomes_vaspain",)
    )


def test_a_transaction_open_while_the_counts_move_on_is_counted_once_committed(
    coordinator, visit, owner_connection
):
    vas = add_vas(visit.participant, visit.code, 40, coordinator)
    owner_connection.execute("UPDATE outcomes_vaspain SET score_mm = 31 WHERE id = %s", [vas.pk])
    # Its row is not committed: the counts move on past every transaction that has ended.
    below = settled.settle()
    assert settled.rows_and_last(excluding=NOT_STUDY_DATA) == _counted()
    owner_connection.commit()
    late = AuditEvent.objects.get(table_name="outcomes_vaspain", new_values__score_mm=31)
    assert late.transaction_id >= below  # counted among the rows since, not the settled
    assert settled.rows_and_last(excluding=NOT_STUDY_DATA) == _counted()
    settled.settle()
    assert settled.rows_and_last(excluding=NOT_STUDY_DATA) == _counted()
    assert sum(_settled_by_table().values()) == AuditEvent.objects.count()


def test_the_app_role_may_not_delete_the_counts(db):
    for table in ("audit_settled", "audit_settled_mark"):
        with (
            pytest.raises(DatabaseError, match="permission denied"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 -- our table names
