"""Tamper evidence for the audit trail: every audit row is chained to the one before.

Link n = HMAC-SHA256(key, link n-1 | n | the row's content), where the content is the row as
PostgreSQL's canonical jsonb text (in UTC). The key (settings.AUDIT_HMAC_KEY) is held by the
application, never by the database: someone who can write to the database, its owner
included, can change a row but cannot compute the link that would hide the change.

Rows are chained by `seal()`, after they are committed, in the order they are sealed (not in
the order of their ids): sealers take turns under an advisory lock, and each seals every
committed row that has no link yet. A row committed by a transaction that was still open
during one seal is simply sealed by the next, so concurrent transactions leave no gap and no
row is sealed twice (audit_chain.event_id is unique). Sealing runs every minute (Celery beat),
and before an ODM export or casebook prints the chain head. `verify()` walks the chain.

Keys are numbered (settings.AUDIT_HMAC_KEY_ID) and each link records the key it was sealed
under, so the key can be rotated without touching a sealed link: links made before use a
retired key (settings.AUDIT_HMAC_RETIRED_KEYS), which is kept only to verify them. A retired
key that leaked cannot hide a change either: the first link under the new key covers every
link before it.
"""

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

GENESIS = "0" * 64
_SEAL_LOCK = 7_157_891  # advisory lock key: one sealer at a time
_BATCH = 5_000


def _keys() -> dict[int, bytes]:
    """Every key links may be sealed under, by number: the retired ones and the current one."""
    keys = {n: key.encode() for n, key in settings.AUDIT_HMAC_RETIRED_KEYS.items()}
    keys[settings.AUDIT_HMAC_KEY_ID] = settings.AUDIT_HMAC_KEY.encode()
    return keys


def link(previous: str, position: int, content: str, key: bytes | None = None) -> str:
    message = f"{previous}\n{position}\n{content}".encode()
    key = settings.AUDIT_HMAC_KEY.encode() if key is None else key
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Head:
    position: int
    link: str

    def __str__(self) -> str:
        return f"{self.position}:{self.link}"


@dataclass(frozen=True)
class Verdict:
    checked: int
    unsealed: int
    broken_at: int | None = None  # the first position whose link does not match
    event_id: int | None = None
    problem: str = ""
    missing_key: int | None = None  # the link was sealed under a key not configured here

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _utc(cursor) -> None:
    # jsonb renders timestamps in the session's zone: the content must not depend on it.
    cursor.execute("SET LOCAL TimeZone = 'UTC'")


def _head(cursor) -> Head:
    cursor.execute("SELECT position, link FROM audit_chain ORDER BY position DESC LIMIT 1")
    row = cursor.fetchone()
    return Head(row[0], row[1]) if row else Head(0, GENESIS)


def seal() -> Head:
    """Chain every committed audit row that has no link yet; return the new head."""
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SEAL_LOCK])
            _utc(cursor)
            head = _head(cursor)
            cursor.execute(
                """
                SELECT e.id, to_jsonb(e)::text FROM audit_event e
                WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id)
                ORDER BY e.id LIMIT %s
                """,
                [_BATCH],
            )
            rows = cursor.fetchall()
            links = []
            position, previous = head.position, head.link
            for event_id, content in rows:
                position += 1
                previous = link(previous, position, content)
                links.append((position, event_id, previous))
            if links:
                cursor.executemany(
                    "INSERT INTO audit_chain (position, event_id, link, key_id) "
                    "VALUES (%s, %s, %s, %s)",
                    [(*row, settings.AUDIT_HMAC_KEY_ID) for row in links],
                )
            head = Head(position, previous)
        if len(rows) < _BATCH:
            return head


def head() -> Head:
    """The newest link: two copies of the data with the same head have the same trail."""
    with connection.cursor() as cursor:
        return _head(cursor)


def verify() -> Verdict:
    """Recompute every link in order; report the first that does not match."""
    checked = 0
    previous = GENESIS
    keys = _keys()
    with transaction.atomic(), connection.cursor() as cursor:
        _utc(cursor)
        cursor.execute(
            """
            SELECT c.position, c.event_id, c.link, c.key_id, to_jsonb(e)::text
            FROM audit_chain c LEFT JOIN audit_event e ON e.id = c.event_id
            ORDER BY c.position
            """
        )
        while batch := cursor.fetchmany(_BATCH):
            for position, event_id, stored, key_id, content in batch:
                if position != checked + 1:
                    return Verdict(checked, 0, checked + 1, None, "a link is missing")
                if content is None:
                    return Verdict(checked, 0, position, event_id, "the audit row is missing")
                if key_id not in keys:
                    problem = f"it was sealed under key {key_id}, which is not configured"
                    return Verdict(checked, 0, position, event_id, problem, key_id)
                expected = link(previous, position, content, keys[key_id])
                if not hmac.compare_digest(expected, stored.strip()):
                    return Verdict(
                        checked, 0, position, event_id, "the audit row or its link was changed"
                    )
                previous = stored.strip()
                checked += 1
        cursor.execute(
            "SELECT count(*) FROM audit_event e "
            "WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id)"
        )
        unsealed = cursor.fetchone()[0]
    return Verdict(checked, unsealed)
