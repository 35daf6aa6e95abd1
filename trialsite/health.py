"""What /health/ reports, for the people who run the server: the database, Redis, a Celery
worker answering, Celery beat's last run, work waiting in the outbox, free disk where
documents are kept and, with DOCUMENT_STORAGE=s3, the document bucket. Any failing check
makes the answer 503, so a monitor or a load balancer sees it.

Beat runs `record_heartbeat` every minute; the worker that runs it writes the time to Redis.
A heartbeat older than settings.HEALTH_HEARTBEAT_MAX_AGE means beat (or every worker) stopped.
"""

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from celery import shared_task
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Count, Min
from django.utils import timezone

from trialsite.outbox.models import OutboxMessage

HEARTBEAT_KEY = "trialsite:health:heartbeat"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _redis():
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


@shared_task(name="trialsite.health.record_heartbeat", ignore_result=True)
def record_heartbeat() -> None:
    _redis().set(HEARTBEAT_KEY, f"{time.time():.0f}")


def _database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        return Check("database", False, type(error).__name__)
    return Check("database", True, "answers")


def _outbox() -> Check:
    """Work handed over but not yet taken by the broker (trialsite/outbox): waiting longer than
    a few relays means the broker or beat is down; the work is kept and goes out once it is
    back."""
    try:
        waiting = OutboxMessage.objects.filter(sent_at__isnull=True).aggregate(
            count=Count("id"), oldest=Min("created_at")
        )
    except Exception as error:  # noqa: BLE001 - the database check says why
        return Check("outbox", False, type(error).__name__)
    if not waiting["count"]:
        return Check("outbox", True, "nothing waiting")
    age = (timezone.now() - waiting["oldest"]).total_seconds()
    detail = f"{waiting['count']} waiting, the oldest for {age:.0f} s"
    return Check("outbox", age <= settings.HEALTH_OUTBOX_MAX_AGE, detail)


def _redis_check() -> tuple[Check, float | None]:
    try:
        client = _redis()
        client.ping()
        beat = client.get(HEARTBEAT_KEY)
    except redis.RedisError as error:
        return Check("redis", False, type(error).__name__), None
    return Check("redis", True, "answers"), float(beat) if beat else None


def _worker() -> Check:
    from trialsite.celery import app

    try:
        replies = app.control.ping(timeout=settings.HEALTH_PING_SECONDS)
    except Exception as error:  # noqa: BLE001
        return Check("worker", False, type(error).__name__)
    if not replies:
        return Check("worker", False, "no worker answered")
    return Check("worker", True, f"{len(replies)} answered")


def _beat(last: float | None) -> Check:
    if last is None:
        return Check("beat", False, "no heartbeat yet")
    age = time.time() - last
    if age > settings.HEALTH_HEARTBEAT_MAX_AGE:
        return Check("beat", False, f"last heartbeat {age:.0f} s ago")
    return Check("beat", True, f"last heartbeat {age:.0f} s ago")


def _storage() -> Check:
    """The document bucket answers (DOCUMENT_STORAGE=s3)."""
    try:
        default_storage.exists("health-check")
    except Exception as error:  # noqa: BLE001 - whatever the bucket says, it is down
        return Check("storage", False, type(error).__name__)
    return Check("storage", True, "the document bucket answers")


def _disk() -> Check:
    """Free disk where documents are kept (or, with a bucket, where they are rendered)."""
    on_disk = settings.DOCUMENT_STORAGE == "filesystem"
    folder = Path(settings.MEDIA_ROOT if on_disk else tempfile.gettempdir())
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free_mb = shutil.disk_usage(folder).free // 2**20
    return Check("disk", free_mb >= settings.HEALTH_MIN_FREE_MB, f"{free_mb} MB free")


def checks() -> list[Check]:
    redis_ok, last = _redis_check()
    found = [_database(), redis_ok, _outbox()]
    found.append(_worker() if redis_ok.ok else Check("worker", False, "Redis is down"))
    found += [_beat(last), _disk()]
    if settings.DOCUMENT_STORAGE == "s3":
        found.append(_storage())
    return found
