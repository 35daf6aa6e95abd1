"""Work spread over forked child processes, for CPU-bound steps such as laying out a long PDF.

Forked by hand rather than with multiprocessing: Celery's pool workers are daemonic processes,
and multiprocessing refuses to start children from one. A child inherits everything loaded in
its parent (WeasyPrint, fonts, settings) and must not touch the parent's database connection:
the calls given here compute from their arguments only. A child dies with its parent.
"""

import ctypes
import os
import pickle
import selectors
import signal
import traceback
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


class ChildFailed(RuntimeError):
    """A call failed in its child process: the message is the child's error, and a note on
    the exception carries the child's traceback."""


def forked(calls: list[tuple[Callable, tuple]], processes: int) -> list:
    """Run each `(function, args)` in a child forked from this process, at most `processes`
    at a time, started in the order given; return the results in that order. The first failure
    stops the other children and is raised here as ChildFailed."""
    results: list = [None] * len(calls)
    waiting = list(enumerate(calls))[::-1]  # popped from the end: first call first
    running: dict[int, tuple[int, int, bytearray]] = {}  # read end -> (index, pid, received)
    with selectors.DefaultSelector() as selector:
        try:
            while waiting or running:
                while waiting and len(running) < processes:
                    index, (function, args) = waiting.pop()
                    read_end, write_end = os.pipe()
                    pid = os.fork()
                    if pid == 0:  # the child
                        os.close(read_end)
                        _run_child(function, args, write_end)
                    os.close(write_end)
                    running[read_end] = (index, pid, bytearray())
                    selector.register(read_end, selectors.EVENT_READ)
                for key, _ in selector.select():
                    index, pid, received = running[key.fd]
                    chunk = os.read(key.fd, 1 << 16)
                    if chunk:
                        received += chunk
                        continue
                    selector.unregister(key.fd)
                    os.close(key.fd)
                    del running[key.fd]
                    _, status = os.waitpid(pid, 0)
                    results[index] = _outcome(received, status)
        finally:
            for read_end, (_, pid, _) in running.items():
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                os.close(read_end)
    return results


def _outcome(received: bytes, status: int):
    code = os.waitstatus_to_exitcode(status)
    try:
        kind, value = pickle.loads(received)  # noqa: S301 - from our own child
    except Exception:
        raise ChildFailed(f"A child process ended with exit code {code} and no result.") from None
    if kind != "ok":
        summary, child_traceback = value
        error = ChildFailed(summary)
        error.add_note(f"In the child process:\n{child_traceback}")  # logged with the error
        raise error
    return value


def _run_child(function: Callable, args: tuple, write_end: int) -> None:
    """In the child: compute, send the pickled result (or the failure) up the pipe, exit
    without running the parent's exit handlers."""
    code = 1
    try:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        outcome = ("ok", function(*args))
        code = 0
    except BaseException as error:  # noqa: BLE001 - everything is reported to the parent
        outcome = ("failed", (f"{type(error).__name__}: {error}", traceback.format_exc()))
    try:
        with os.fdopen(write_end, "wb") as pipe:
            pickle.dump(outcome, pipe, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        os._exit(code)
