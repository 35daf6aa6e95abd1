"""How many audit rows there are, of every table but some, without counting the whole trail.

A document made from the study's data (an export, the CONSORT diagram) is stale once the audit
trail of the data has changed: its fingerprint is the number of audit rows and the last one's
id (monitoring/documents.py). Counting a trail of a million rows took 250 ms on each view of
the Downloads page. Here the rows written by transactions that have ended are counted once, by
table, as the trail's sealing task runs (every minute); a count is those counts plus the rows
written since, read from an index on the transaction id.

A transaction's rows are final once it has ended, and every transaction with an id below the
oldest one still running (the snapshot's xmin) has ended; a transaction not yet given an id
gets one above it. So rows with a transaction id below `audit_settled_mark.below` are counted in
`audit_settled` and never change; rows of a transaction still open when the counts moved on
are counted among the rows since, once they are committed.
"""

from django.db import connection, transaction


def settle() -> int:
    """Count, by table, the rows of the transactions that have ended since the last call; the
    transaction id below which every row is now counted."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT below, pg_snapshot_xmin(pg_current_snapshot())::text::bigint "
            "FROM audit_settled_mark FOR UPDATE"
        )
        below, ended_below = cursor.fetchone()
        if ended_below <= below:
            return below
        cursor.execute(
            """
            INSERT INTO audit_settled (table_name, rows)
            SELECT table_name, count(*) FROM audit_event
            WHERE transaction_id >= %s AND transaction_id < %s GROUP BY table_name
            ON CONFLICT (table_name) DO UPDATE SET rows = audit_settled.rows + excluded.rows
            """,
            [below, ended_below],
        )
        cursor.execute("UPDATE audit_settled_mark SET below = %s", [ended_below])
    return ended_below


def rows_and_last(*, excluding: tuple[str, ...]) -> tuple[int, int]:
    """(how many audit rows there are, the id of the last) of every table but `excluding`,
    read at one moment."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT
                (SELECT coalesce(sum(rows), 0) FROM audit_settled
                 WHERE table_name <> ALL(%(excluding)s))
                + (SELECT count(*) FROM audit_event
                   WHERE transaction_id >= (SELECT below FROM audit_settled_mark)
                   AND table_name <> ALL(%(excluding)s)),
                (SELECT max(id) FROM audit_event WHERE table_name <> ALL(%(excluding)s))
            """,
            {"excluding": list(excluding)},
        )
        rows, last = cursor.fetchone()
    return rows, last or 0
