"""The REST API under /api/v1/ (django-ninja): personal tokens, the same rules as the pages.

A request carries `Authorization: Bearer <token>`; it acts as the token's user, with their sites,
role and blinding, through the same selectors and services as the pages. A read-only token may
not write. Each token may make settings.API_REQUESTS_PER_MINUTE requests a minute (counted in
Redis, so across every web process), and every request made with a token is logged
(ApiTokenUse: who, when, which endpoint, how it ended, how many records it returned).

Lists are read a page at a time by cursor: `limit` rows after `cursor`, with `next_cursor` for
the following page (None on the last). Each app declares its endpoints in its own api.py;
they are added here by name, so this package imports no app.
"""

import base64
import binascii
import json
import time
from datetime import UTC, datetime
from functools import cache
from typing import Annotated

import redis
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBearer
from pydantic import StringConstraints

from trialsite.access import by_token
from trialsite.accounts.models import ApiTokenUse
from trialsite.accounts.services import token_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PAGE_LIMIT = 100
MAX_LIMIT = 1000


class TokenAuth(HttpBearer):
    """A personal token (accounts.ApiToken): active, of an active user, in its scope and
    within its rate. `changes_data=False` on an operation that posts without changing the
    study's data (starting an export), which a read-only token may do."""

    def __init__(self, *, changes_data: bool = True):
        super().__init__()
        self.changes_data = changes_data

    def authenticate(self, request, token: str):
        found = token_of(token, timezone.now())
        if found is None:
            return None
        request.api_token = found
        request.user = found.user
        if found.user.time_zone:  # as a page (trialsite/sites/middleware.py): the site's zone
            timezone.activate(found.user.time_zone)
        if request.method not in SAFE_METHODS and self.changes_data and not found.writes:
            raise HttpError(403, "This token may only read.")
        if over_rate(found.pk):
            raise HttpError(429, "Too many requests with this token: wait a minute.")
        return found


@cache
def _redis() -> redis.Redis:
    """One client (and its connection pool) per process."""
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def over_rate(token_pk: int) -> bool:
    """Count a request of the token in this minute; True past the limit. Without Redis the
    request is let through (the limit protects the server; it is not an access rule)."""
    minute = int(time.time() // 60)
    key = f"trialsite:api:rate:{token_pk}:{minute}"
    try:
        with _redis().pipeline() as pipe:
            count, _ = pipe.incr(key).expire(key, 120).execute()
    except redis.RedisError:
        return False
    return count > settings.API_REQUESTS_PER_MINUTE


DESCRIPTION = """Read the study's data from a program (R, Python, a laboratory's system), save
records with a read-write token, and have exports made in the background.

Make a personal token on your account page (user menu, "API tokens") and send it with every
request: `Authorization: Bearer <token>`. The API acts as you: your sites, your role, what you
may see. A read-only token may not change anything (it may have exports made). Each token
may make {rate} requests a minute; every request is logged with the token.

Lists come a page at a time: `limit` rows (at most {most}), and `next_cursor` to send back as
`cursor` for the next page (null on the last). Items are named as in the export's data
dictionary."""

api = NinjaAPI(
    title="trialsite API",
    version="1",
    description=DESCRIPTION.format(rate=settings.API_REQUESTS_PER_MINUTE, most=MAX_LIMIT),
    auth=TokenAuth(),
    urls_namespace="api-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(HttpError)
def http_error(request, error: HttpError):
    return api.create_response(request, {"detail": error.message}, status=error.status_code)


@api.exception_handler(Http404)
def not_found(request, error: Http404):
    return api.create_response(request, {"detail": str(error) or "Not found."}, status=404)


@api.exception_handler(PermissionDenied)
def refused(request, error: PermissionDenied):
    detail = str(error) or "Your role may not do this."
    return api.create_response(request, {"detail": detail}, status=403)


@api.exception_handler(AuthenticationError)
def no_token(request, error: AuthenticationError):
    return api.create_response(
        request, {"detail": "Send a valid API token: Authorization: Bearer <token>."}, status=401
    )


class Problem(Schema):
    """Why a request was refused, in words."""

    detail: str


class Invalid(Schema):
    """A parameter that is not of its type or form, parameter by parameter."""

    detail: list[dict]


# A code in a filter or a cursor (a site or visit code, a participant ID, a form's name):
# letters, digits and - _ . : = only, so that nothing the database cannot hold reaches it.
Code = Annotated[str, StringConstraints(max_length=100, pattern=r"^[A-Za-z0-9_.:=-]*$")]


def answers(ok) -> dict:
    """An operation's responses: `ok` on success, and each refusal the API may give (a filter
    or cursor it cannot use, no valid token, a role that may not, nothing of that name, too
    many requests, a parameter not of its form)."""
    return {
        200: ok,
        400: Problem,
        401: Problem,
        403: Problem,
        404: Problem,
        422: Invalid,
        429: Problem,
    }


def links(status: int, **targets: tuple[str, dict]) -> dict:
    """An operation's OpenAPI links from its `status` response: for each name, the operation
    (its operationId) that the response leads to, and that operation's parameters, as
    expressions on this request and response ("$response.body#/id")."""
    return {
        "responses": {
            status: {
                "links": {
                    name: {"operationId": operation, "parameters": parameters}
                    for name, (operation, parameters) in targets.items()
                }
            }
        }
    }


def in_zone(moment: datetime) -> datetime:
    """A time sent, in UTC: one without a zone is the site's time, as the pages read times. (A
    time in any zone is sent to the database in UTC: PostgreSQL reads offsets to ±15:59 only.)"""
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment.astimezone(UTC)
    except (OverflowError, ValueError) as error:
        raise HttpError(400, "This time is out of range.") from error


def page_of(
    request, rows: QuerySet, cursor: str | None, limit: int, *, latest_first: bool = False
) -> tuple[list, str | None]:
    """The rows after `cursor` (by primary key, descending when `latest_first`), at most
    `limit` of them, and the cursor of the next page. A cursor that does not parse is a 400: a
    client should send back only what it was given."""
    limit = max(1, min(limit, MAX_LIMIT))
    after = 0
    if cursor:
        try:
            after = int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["after"])
        except (ValueError, KeyError, TypeError, binascii.Error) as error:
            raise HttpError(400, "This cursor is not one the API gave.") from error
    if latest_first:
        rows = (rows.filter(pk__lt=after) if cursor else rows).order_by("-pk")
    else:
        rows = rows.filter(pk__gt=after).order_by("pk")
    found = list(rows[: limit + 1])
    following = None
    if len(found) > limit:
        found = found[:limit]
        following = base64.urlsafe_b64encode(json.dumps({"after": found[-1].pk}).encode())
    request.api_records = len(found)
    return found, following.decode() if following else None


class ApiUseMiddleware:
    """Log each request made with a token, after its response (ApiTokenUse)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        token = getattr(request, "api_token", None)
        if token is not None:
            ApiTokenUse.objects.create(
                token=token,
                user_id=token.user_id,
                at=timezone.now(),
                method=request.method[:10],
                path=request.get_full_path()[:2000],
                status=response.status_code,
                records=getattr(request, "api_records", 0),
            )
        return response


def urls():
    """The API's URL patterns, each declared as taking a token (trialsite/access.py)."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        by_token(pattern.callback)
    return patterns, app_name, namespace


api.add_router("/participants", "enrollment.api.router")
api.add_router("/visits", "visits.api.router")
api.add_router("/forms", "monitoring.api.router")
api.add_router("/analysis", "monitoring.api.analysis_router")
api.add_router("/queries", "monitoring.api.queries_router")
api.add_router("/exports", "monitoring.api.exports_router")
