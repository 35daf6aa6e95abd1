"""Simulated study coordinators for benchmarks/load.py: each signs in with a session made for
them (the plan file, BENCH_LOAD_PLAN), thinks 1-3 s between pages, and reads and saves forms in
the mix a coordinator's day has, the first page after a moment's thought too (not all at once).
With BENCH_LOAD_PAGE set, every user asks for that one page only, without thinking (throughput
of one page). With BENCH_LOAD_TIMES set, each request is added to that file as a JSON line:
[name, ms, bytes, failed]."""

import json
import os
import random
import re
from itertools import count

import gevent
from locust import HttpUser, between, constant, events, task

PLAN = json.loads(open(os.environ["BENCH_LOAD_PLAN"]).read())  # noqa: SIM115
ONLY = os.environ.get("BENCH_LOAD_PAGE", "")
_next = count()
_VERSION = re.compile(r'name="version" value="(\d+)"')
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_TIMES_PATH = os.environ.get("BENCH_LOAD_TIMES", "")
_TIMES = open(_TIMES_PATH, "a") if _TIMES_PATH else None  # noqa: SIM115


@events.request.add_listener
def _record(name, response_time, response_length, exception, **_):
    if _TIMES:
        _TIMES.write(json.dumps([name, response_time, response_length, exception is not None]))
        _TIMES.write("\n")


@events.quitting.add_listener
def _close(**_):
    if _TIMES:
        _TIMES.close()


class Coordinator(HttpUser):
    wait_time = constant(0) if ONLY else between(1, 3)

    def on_start(self):
        self.me = PLAN["users"][next(_next) % len(PLAN["users"])]
        self.client.cookies.set("sessionid", self.me["session"])
        if not ONLY:
            gevent.sleep(random.uniform(0, 3))

    def get(self, url: str, name: str):
        with self.client.get(url, name=name, catch_response=True) as response:
            if response.status_code != 200 or "/accounts/login/" in response.url:
                response.failure(f"{response.status_code} at {response.url}")
            return response

    def page(self, name: str) -> None:
        if name == "baseline":
            self.get(PLAN["baseline"], "baseline")
        elif name == "dashboard":
            self.get("/dashboard/", "dashboard")
        elif name == "participant":
            self.get(random.choice(self.me["participants"]), "participant page")
        elif name == "crf_get":
            self.get(random.choice(self.me["forms"]), "CRF GET")
        elif name == "crf_save":
            self.save()
        elif name == "ae_listing":
            self.get("/adverse-events/", "AE listing")
        elif name == "queries":
            self.get("/queries/", "query list")

    def save(self) -> None:
        """Open the coordinator's own VAS form, then save it again with a new score."""
        form = self.get(self.me["save"], "CRF GET (before save)")
        version = _VERSION.search(form.text)
        token = _CSRF.search(form.text)
        if not (version and token):
            return
        data = {
            **self.me["answers"],
            "version": version[1],
            "score_mm": str(random.randint(0, 100)),
            "csrfmiddlewaretoken": token[1],
        }
        if version[1] != "0":
            data["reason_for_change"] = "Transcription corrected"
        with self.client.post(
            self.me["save"],
            data,
            name="CRF save",
            headers={"Referer": self.host + self.me["save"]},
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"{response.status_code}: not saved")

    @task
    def one_page(self):
        if ONLY:
            self.page(ONLY)
            return
        weights = {
            "dashboard": 2,
            "participant": 3,
            "crf_get": 4,
            "crf_save": 2,
            "ae_listing": 1,
            "queries": 1,
            "baseline": 1,
        }
        self.page(random.choices(list(weights), list(weights.values()))[0])
