import re
from contextlib import suppress

from django.db import DatabaseError, connection

from trialsite.audit.context import acting_in, set_session_user

# Statements that write, or call the owner's functions that write locks: the logged-in user
# is set before the first of them made outside `audit.acting()` (whose writes are attributed
# already; setting the session's user inside one would override it).
_WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|MERGE|COPY)\b|\bcrf_(un)?lock\(", re.IGNORECASE)


class _AttributeWrites:
    """A database execute wrapper: before the request's first write, the user is set."""

    def __init__(self, request):
        self.request = request
        self.done = False
        self._setting = False

    def __call__(self, execute, sql, params, many, context):
        if (
            not self.done
            and not self._setting
            and not acting_in(context["connection"])
            and _WRITES.search(sql)
        ):
            self._setting = True
            try:
                set_session_user(getattr(self.request, "user", None))
            finally:
                self._setting = False
            self.done = True
        return execute(sql, params, many, context)


class AuditContextMiddleware:
    """Attribute database changes made while serving a request to the logged-in user.

    Set only when the request writes, just before its first write (a page that only reads
    pays nothing), and cleared after such a request, so that a persistent connection never
    carries one request's user into another. Services still name who acts and why with
    `audit.acting()` inside their transactions; that wins for their writes.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        writes = _AttributeWrites(request)
        with connection.execute_wrapper(writes):
            response = self.get_response(request)
        if writes.done:
            with suppress(DatabaseError):  # the response already says what went wrong
                set_session_user(None)
        return response
