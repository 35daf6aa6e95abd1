"""Who is acting, and why: the context that the audit trigger writes into each audit row.

- The request middleware sets the logged-in user for the whole database session.
- Services wrap their writes in `with audit.acting(by=..., reason=...)` inside their
  transaction. That wins over the session value for those writes only: on leaving the block
  the previous values come back, so a nested service or a later write is not mis-attributed.
  Celery tasks and management commands are attributed the same way.
"""

from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections

_NAMES = ("trialsite.user_id", "trialsite.username", "trialsite.reason")


def _ids(user) -> tuple[str, str]:
    if user is None or not getattr(user, "is_authenticated", False):
        return "", ""
    return str(user.pk), user.get_username()


def _set(cursor, values, *, local: bool, read_previous: bool = False):
    reads = ", ".join(f"current_setting('{n}', true)" for n in _NAMES) if read_previous else ""
    sets = ", ".join(f"set_config('{n}', %s, {'true' if local else 'false'})" for n in _NAMES)
    cursor.execute(f"SELECT {reads + ', ' if reads else ''}{sets}", list(values))  # noqa: S608
    return cursor.fetchone()[: len(_NAMES)] if read_previous else None


def set_session_user(user, using: str = DEFAULT_DB_ALIAS) -> None:
    """Attribute every later change on this connection to `user` (None clears it)."""
    with connections[using].cursor() as cursor:
        _set(cursor, (*_ids(user), ""), local=False)


@contextmanager
def acting(*, by, reason: str = "", using: str = DEFAULT_DB_ALIAS):
    """Attribute the writes inside the block to `by`, with a reason for change.

    Must be used inside `transaction.atomic()`.
    """
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("audit.acting() must be used inside transaction.atomic()")
    with connection.cursor() as cursor:
        previous = _set(cursor, (*_ids(by), reason or ""), local=True, read_previous=True)
    connection.audit_acting = acting_in(connection) + 1
    try:
        yield
    finally:
        connection.audit_acting -= 1
    # Not reached when the block raises: the transaction or savepoint rolls back, and
    # PostgreSQL undoes the SET LOCAL with it.
    with connection.cursor() as cursor:
        _set(cursor, tuple(v or "" for v in previous), local=True)


def acting_in(connection) -> int:
    """How many `acting()` blocks are open on `connection` (their writes are attributed)."""
    return getattr(connection, "audit_acting", 0)
