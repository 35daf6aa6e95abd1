"""Who is acting, and why: the context that the audit trigger writes into each audit row.

- The request middleware sets the logged-in user for the whole database session.
- Services call `stamp(by=..., reason=...)` inside their transaction; that wins over the
  session value until the transaction ends, so Celery tasks and commands are attributed too.
"""

from django.db import DEFAULT_DB_ALIAS, connections

_SQL = (
    "SELECT set_config('trialsite.user_id', %s, {local}), "
    "set_config('trialsite.username', %s, {local}), "
    "set_config('trialsite.reason', %s, {local})"
)


def _ids(user) -> tuple[str, str]:
    if user is None or not getattr(user, "is_authenticated", False):
        return "", ""
    return str(user.pk), user.get_username()


def set_session_user(user, using: str = DEFAULT_DB_ALIAS) -> None:
    """Attribute every later change on this connection to `user` (None clears it)."""
    user_id, username = _ids(user)
    with connections[using].cursor() as cursor:
        cursor.execute(_SQL.format(local="false"), [user_id, username, ""])


def stamp(*, by, reason: str = "", using: str = DEFAULT_DB_ALIAS) -> None:
    """Attribute the changes of the current transaction to `by`, with a reason for change.

    Must be called inside `transaction.atomic()`: the values end with the transaction.
    """
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("audit.stamp() must be called inside transaction.atomic()")
    user_id, username = _ids(by)
    with connection.cursor() as cursor:
        cursor.execute(_SQL.format(local="true"), [user_id, username, reason or ""])
