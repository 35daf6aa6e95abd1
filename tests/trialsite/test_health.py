"""/health/ for the people who run the server: the database, Redis, a worker answering, beat's
last run, the outbox and free disk, each reported; 503 when one fails. /health/live/ is the
containers' check (the database only)."""

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests import helpers
from trialsite import health
from trialsite.outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def heartbeat():
    client = health._redis()
    yield client
    client.delete(health.HEARTBEAT_KEY)


def report(client):
    response = client.get(reverse("health"))
    return response.status_code, {name: c["ok"] for name, c in response.json()["checks"].items()}


@pytest.mark.django_db(transaction=True)  # the worker runs in this process
def test_all_parts_running_is_ok(client, worker, heartbeat, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # not created yet: its nearest folder is measured
    settings.HEALTH_MIN_FREE_MB = 1
    heartbeat.delete(health.HEARTBEAT_KEY)
    health.record_heartbeat.delay()  # as beat sends it; the worker writes the time
    assert helpers.wait_for(lambda: heartbeat.get(health.HEARTBEAT_KEY) is not None)
    status, checks = report(client)
    assert (status, checks) == (
        200,
        {
            "database": True,
            "redis": True,
            "outbox": True,
            "worker": True,
            "beat": True,
            "disk": True,
        },
    )
    assert client.get(reverse("alive")).status_code == 200


def test_no_worker_an_old_heartbeat_and_a_full_disk_each_fail(client, heartbeat, settings):
    heartbeat.set(health.HEARTBEAT_KEY, f"{time.time() - settings.HEALTH_HEARTBEAT_MAX_AGE - 5}")
    settings.HEALTH_MIN_FREE_MB = 10**9
    status, checks = report(client)
    assert status == 503
    assert checks == {
        "database": True,
        "redis": True,
        "outbox": True,
        "worker": False,
        "beat": False,
        "disk": False,
    }
    body = client.get(reverse("health")).json()
    assert body["status"] == "failing"
    assert body["checks"]["worker"]["detail"] == "no worker answered"


def test_redis_down_fails_redis_and_the_worker(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    status, checks = report(client)
    assert status == 503
    assert (checks["database"], checks["redis"], checks["worker"], checks["beat"]) == (
        True,
        False,
        False,
        False,
    )


def test_with_documents_in_a_bucket_the_bucket_is_checked(s3_documents, client):
    assert client.get(reverse("health")).json()["checks"]["storage"]["ok"] is True
    s3_documents.server.stop()
    response = client.get(reverse("health"))
    assert response.status_code == 503
    assert response.json()["checks"]["storage"]["ok"] is False


def test_work_waiting_in_the_outbox_too_long_fails(client, settings):
    assert client.get(reverse("health")).json()["checks"]["outbox"]["detail"] == "nothing waiting"
    message = OutboxMessage.objects.create(task="safety.tasks.notify_sae", args=[1])
    assert report(client)[1]["outbox"] is True  # just queued: the next relay takes it
    OutboxMessage.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.HEALTH_OUTBOX_MAX_AGE + 5)
    )
    OutboxMessage.objects.create(task="safety.tasks.notify_sae", args=[2])
    response = client.get(reverse("health"))
    assert response.status_code == 503
    detail = response.json()["checks"]["outbox"]["detail"]
    assert detail.startswith("2 waiting, the oldest for 12")
