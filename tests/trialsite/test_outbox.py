"""Work for the workers is never lost, never doubled (trialsite/outbox): written in the same
transaction as the data, relayed once the broker answers. The real Redis of the test run is
stopped and started again here."""

import subprocess
import time
from threading import Barrier, Thread
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core import mail
from django.db import connections

from safety import services as safety_services
from safety.models import SaeNotification
from tests import helpers
from trialsite.outbox import services as outbox
from trialsite.outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_stopped(tmp_path_factory):
    """The test run's Redis, stopped; started again (empty) by `start()` or at the end, with
    the pid file it had, so that whatever started it (scripts/services.sh) also stops it."""
    port = urlparse(settings.REDIS_URL).port
    asked = ["redis-cli", "-p", str(port), "config", "get", "pidfile"]
    pidfile = subprocess.run(asked, capture_output=True, text=True).stdout.split("\n")[1:2]
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)

    def start():
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode:
            subprocess.run(
                [
                    "redis-server",
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "yes",
                    "--dir",
                    str(tmp_path_factory.mktemp("redis")),
                    *(["--pidfile", pidfile[0]] if pidfile and pidfile[0] else []),
                ],
                check=True,
                capture_output=True,
            )
            assert helpers.wait_for(
                lambda: (
                    subprocess.run(
                        ["redis-cli", "-p", str(port), "ping"], capture_output=True
                    ).returncode
                    == 0
                )
            )

    yield start
    start()


def relay_until_published(seconds=30) -> int:
    """As Celery beat does every few seconds."""
    deadline, published = time.monotonic() + seconds, 0
    while time.monotonic() < deadline and OutboxMessage.objects.filter(sent_at=None).exists():
        published += outbox.relay()
        time.sleep(0.2)
    return published


def test_an_sae_reported_while_redis_is_down_is_saved_and_e_mailed_once_it_is_back(
    redis_stopped, request, coordinator, investigator, arm_a
):
    ae = safety_services.report_adverse_event(
        participant=arm_a, data=helpers.fatal_ae_answers(), by=coordinator
    )  # no error for the user: the event and its e-mail are kept
    message = OutboxMessage.objects.get()
    assert (message.task, message.args, message.sent_at) == (
        "safety.tasks.notify_sae",
        [ae.pk],
        None,
    )
    assert message.attempts == 1 and message.last_error  # the broker refused it at commit
    redis_stopped()
    assert relay_until_published() == 1
    request.getfixturevalue("worker")  # a worker starts and takes the task
    assert helpers.wait_for(lambda: SaeNotification.objects.filter(adverse_event=ae).exists(), 60)
    sent = len(mail.outbox)
    assert sent >= 1
    # Relayed again (a relay that died before marking it sent): the e-mail is not doubled.
    OutboxMessage.objects.update(sent_at=None)
    assert relay_until_published() == 1
    time.sleep(2)
    assert len(mail.outbox) == sent
    assert SaeNotification.objects.filter(adverse_event=ae, kind="initial").count() == 1


def test_two_relays_at_once_publish_each_message_once(arm_a):
    """Rows are claimed with SKIP LOCKED: a second relay skips what the first holds."""
    for n in range(5):
        OutboxMessage.objects.create(task="trialsite.health.record_heartbeat", kwargs={"n": n})

    counts, barrier = [], Barrier(2)

    def run():
        barrier.wait()
        counts.append(outbox.relay())
        connections.close_all()

    threads = [Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 5
    assert not OutboxMessage.objects.filter(sent_at=None).exists()
