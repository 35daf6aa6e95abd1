"""Work spread over the Celery worker processes (trialsite/spread.py): every free process takes
inputs, the caller too; outputs come back in order; a failure on a worker is raised in the
caller; an input whose process died is done again by the caller; with no broker, the caller
does everything. The workers are real Celery worker processes."""

import json
import os
import time

import pytest

from tests.helpers import spread_probe
from trialsite import spread

PROBE = f"{spread_probe.__module__}.{spread_probe.__qualname__}"

pytestmark = pytest.mark.django_db(transaction=True)


def probes(count: int, **options) -> list[str]:
    return [json.dumps({"value": f"input {n}", **options}) for n in range(count)]


def made_by(outputs: list[bytes]) -> list[int]:
    return [int(output.decode().rpartition(":")[2]) for output in outputs]


def test_the_inputs_are_shared_by_the_worker_processes_and_the_caller(spread_workers):
    outputs, elsewhere = spread.spread(PROBE, probes(8, seconds=0.4))
    assert [output.decode().rpartition(":")[0] for output in outputs] == [
        f"input {n}" for n in range(8)
    ]
    processes = made_by(outputs)
    assert os.getpid() in processes  # the caller never only waits
    assert len(set(processes)) == 3  # and both worker processes took some
    assert elsewhere == sum(pid != os.getpid() for pid in processes) >= 2


def test_a_failure_on_a_worker_is_raised_in_the_caller(spread_workers):
    with pytest.raises(spread.SpreadFailed, match="^ValueError: input \\d refused outside"):
        spread.spread(PROBE, probes(6, seconds=0.4, outside=os.getpid(), then="fail"))


def test_an_input_whose_worker_process_died_is_done_by_the_caller(spread_workers, settings):
    settings.SPREAD_WAIT_SECONDS = 2
    started = time.monotonic()
    dying = probes(4, seconds=0.4, outside=os.getpid(), then="die")
    outputs, elsewhere = spread.spread(PROBE, dying)
    assert made_by(outputs) == [os.getpid()] * 4 and elsewhere == 0
    assert time.monotonic() - started < 30  # waited for the dead ones, not forever


def test_with_no_broker_the_caller_does_everything(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    outputs, elsewhere = spread.spread(PROBE, probes(3))
    assert made_by(outputs) == [os.getpid()] * 3 and elsewhere == 0


def test_one_input_is_done_here_without_redis(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert spread.spread(PROBE, probes(1))[0][0] == f"input 0:{os.getpid()}".encode()
