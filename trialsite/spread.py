"""CPU-bound work spread over the Celery workers, such as laying out the parts of a long PDF.

`spread(job, inputs)` leaves the inputs in Redis and sends a group of `work_on_spread` tasks:
every worker process of the cluster that is free takes one, and each takes the next input
not yet taken, until none is left. The task that called `spread` takes inputs the same way, so
it never waits on a queue: with one worker process in all, it does every input itself. An
input taken by a process that then dies is done again by the caller once it has waited
`SPREAD_WAIT_SECONDS` (or three times its own slowest input) for it. If the broker is down,
the caller does everything.

Jobs are named functions from text to bytes (JOBS), so nothing is unpickled from Redis.
"""

import importlib
import logging
import time
import uuid
from collections.abc import Callable

import redis
from celery import group, shared_task
from django.conf import settings

logger = logging.getLogger(__name__)

JOBS: dict[str, Callable[[str], bytes]] = {}


class SpreadFailed(RuntimeError):
    """An input failed on a worker: the message is the worker's error."""


def job(function: Callable[[str], bytes]) -> Callable[[str], bytes]:
    """Register `function` as a job that `spread` can hand to other processes."""
    JOBS[f"{function.__module__}.{function.__qualname__}"] = function
    return function


def _function(name: str) -> Callable[[str], bytes]:
    if name not in JOBS:  # registered when its module is imported
        importlib.import_module(name.rpartition(".")[0])
    return JOBS[name]


def _take(client, keys: "_Keys") -> int:
    """The index of the next input nobody has taken."""
    with client.pipeline() as pipe:
        pipe.incr(keys.next)
        pipe.expire(keys.next, settings.DOCUMENT_RENDER_TIME_LIMIT)
        taken, _ = pipe.execute()
    return taken - 1


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=30, socket_connect_timeout=2)


class _Keys:
    def __init__(self, token: str):
        base = f"trialsite:spread:{token}"
        self.count, self.next, self.done = f"{base}:count", f"{base}:next", f"{base}:done"
        self.base = base

    def input(self, index: int) -> str:
        return f"{self.base}:in:{index}"

    def output(self, index: int) -> str:
        return f"{self.base}:out:{index}"

    def error(self, index: int) -> str:
        return f"{self.base}:error:{index}"

    def all(self, count: int) -> list[str]:
        indexes = range(count)
        return [self.count, self.next, self.done] + [
            key(i) for i in indexes for key in (self.input, self.output, self.error)
        ]


def spread(name: str, inputs: list[str]) -> tuple[list[bytes], int]:
    """JOBS[name] applied to each input, on every free worker process and this one; the
    outputs in the order of the inputs, and how many of them other processes made."""
    function = _function(name)
    if len(inputs) < 2:
        return [function(text) for text in inputs], 0
    client, keys = _client(), _Keys(uuid.uuid4().hex)
    ttl = settings.DOCUMENT_RENDER_TIME_LIMIT
    try:
        with client.pipeline() as pipe:
            for index, text in enumerate(inputs):
                pipe.set(keys.input(index), text, ex=ttl)
            pipe.set(keys.count, len(inputs), ex=ttl)
            pipe.execute()
        group(work_on_spread.s(name, keys.base) for _ in inputs[1:]).apply_async()
    except Exception:  # noqa: BLE001 - no broker: this process does it all
        logger.warning("Could not hand work to other workers; doing it here", exc_info=True)
        return [function(text) for text in inputs], 0
    try:
        return _gather(client, keys, function, inputs)
    finally:
        client.delete(*keys.all(len(inputs)))


def _gather(client, keys: "_Keys", function, inputs: list[str]) -> tuple[list[bytes], int]:
    outputs: list[bytes | None] = [None] * len(inputs)
    slowest = 0.0
    while (index := _take(client, keys)) < len(inputs):
        started = time.monotonic()
        outputs[index] = function(inputs[index])
        slowest = max(slowest, time.monotonic() - started)
    deadline = time.monotonic() + max(settings.SPREAD_WAIT_SECONDS, 3 * slowest)
    elsewhere = 0
    for index in range(len(inputs)):
        if outputs[index] is not None:
            continue
        while (output := client.get(keys.output(index))) is None:
            if (error := client.get(keys.error(index))) is not None:
                raise SpreadFailed(error.decode())
            if time.monotonic() > deadline:
                logger.warning("Input %d of %d never came back; doing it here", index, len(inputs))
                output = function(inputs[index])
                break
            client.blpop([keys.done], timeout=1)
        else:
            elsewhere += 1
        outputs[index] = output
    return outputs, elsewhere


@shared_task(ignore_result=True)
def work_on_spread(name: str, base: str) -> int:
    """Take inputs of a spread job until none is left; return how many this process did."""
    client, keys = _client(), _Keys(base.rpartition(":")[2])
    count = int(client.get(keys.count) or 0)  # 0 once the caller has cleared up
    function, done = _function(name), 0
    while count and (index := _take(client, keys)) < count:
        text = client.get(keys.input(index))
        if text is None:  # the caller has finished and cleared up
            break
        try:
            output = function(text.decode())
        except Exception as error:  # noqa: BLE001 - the caller raises it
            logger.exception("Input %d of %s failed", index, name)
            client.set(keys.error(index), f"{type(error).__name__}: {error}", ex=600)
        else:
            client.set(keys.output(index), output, ex=settings.DOCUMENT_RENDER_TIME_LIMIT)
            done += 1
        client.rpush(keys.done, index)
        client.expire(keys.done, settings.DOCUMENT_RENDER_TIME_LIMIT)
    return done
