"""Load benchmark (issue 18, points 1, 4 and 5): a small study (25 participants) and a large one
(BENCH_LOAD_SITES sites × BENCH_LOAD_PER_SITE participants, 20 × 1,000 by default, made in bulk
with the audit triggers firing), each served by gunicorn with 3 workers from its own database
(the small one's a copy made before the large one), and timed in turns in the same run, so
that a slower minute of the machine slows both; Locust headless with 25 simulated coordinators
thinking 1-3 s between pages, on a mix of dashboard, participant page, CRF GET and save, AE
listing and query list (benchmarks/load/locustfile.py), for BENCH_LOAD_SECONDS (60) each, in
ROUNDS turns.

Printed for each study: p50/p95 per page, errors, the largest page, and each page's median
over the baseline page's median (a signed-in page of fixed content: the password page); the
large study's medians over the small one's; and the requests per second of the dashboard and
of the participant page as a share of the baseline's, each page asked for alone by 8 users
without thinking. Exits 1 if a target is missed:

- p95 ≤ 150 ms for CRF GET and save, ≤ 250 ms for the dashboard; no errors; no page over 200 KB;
- median over the baseline's ≤ 3 for the participant page and CRF GET/save, ≤ 5 for the
  dashboard;
- throughput ≥ 15 % of the baseline's for the dashboard, ≥ 30 % for the participant page;
- each page's median at the large study ≤ 1.3 × its median at the small one.

Run with `make bench` (throwaway PostgreSQL and Redis; the data is committed there).
"""

import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trialsite.settings")

import django  # noqa: E402
import psycopg  # noqa: E402
import requests  # noqa: E402
from psycopg import sql  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_otp import DEVICE_ID_SESSION_KEY  # noqa: E402

from enrollment.models import Participant  # noqa: E402
from monitoring import documents  # noqa: E402
from monitoring.models import Document  # noqa: E402
from monitoring.queries import raise_query  # noqa: E402
from outcomes.models import VasPain  # noqa: E402
from safety import services as safety_services  # noqa: E402
from tests import factories, helpers  # noqa: E402
from trialsite import roles  # noqa: E402
from trialsite.accounts.models import User  # noqa: E402
from trialsite.audit import settled  # noqa: E402
from visits.models import SecretomeLot  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
USERS = 25
SECONDS = int(os.environ.get("BENCH_LOAD_SECONDS", "60"))
SITES = int(os.environ.get("BENCH_LOAD_SITES", "20"))
PER_SITE = int(os.environ.get("BENCH_LOAD_PER_SITE", "1000"))
# The page a coordinator opens before saving it is a CRF GET too (of their own form).
P95_MS = {"CRF GET": 150, "CRF GET (before save)": 150, "CRF save": 150, "dashboard": 250}
OVER_BASELINE = {
    "participant page": 3,
    "CRF GET": 3,
    "CRF GET (before save)": 3,
    "CRF save": 3,
    "dashboard": 5,
}
THROUGHPUT = {"dashboard": 0.15, "participant": 0.30}
LARGE_OVER_SMALL = 1.3
ROUNDS = 3  # the mix's turns per study, of SECONDS / ROUNDS each
MAX_PAGE_KB = 200


# --- The studies ---------------------------------------------------------------------------------
def make_site(code: str, count: int):
    """A site with `count` participants (every form due at their visits, a small backlog), an
    adverse event, an open query, its staff and three exports made earlier."""
    site = factories.SiteFactory(code=code, name=f"Benchmark site {code}")
    coordinator = factories.UserFactory(
        username=f"{code.lower()}-coordinator", role=roles.COORDINATOR, sites=[site]
    )
    monitor = factories.UserFactory(
        username=f"{code.lower()}-monitor", role=roles.MONITOR, sites=[site]
    )
    factories.UserFactory(
        username=f"{code.lower()}-investigator", role=roles.INVESTIGATOR, sites=[site]
    )
    data_manager = factories.UserFactory(
        username=f"{code.lower()}-data-manager", role=roles.DATA_MANAGER, sites=[site]
    )
    # Exports made earlier, on the Downloads page each with whether the data changed since.
    for kind in (Document.Kind.CSV_EXPORT, Document.Kind.ODM_EXPORT, Document.Kind.CONSORT):
        Document.objects.create(
            kind=kind,
            key=documents._key(kind, {}, data_manager),
            title=kind.label,
            requested_by=data_manager,
            status=Document.Status.READY,
            data_version="0:0",
        )
    # One participant in 50 left unsigned, with a form left to enter, as a site's backlog; at
    # least two at a small site, so that its home pages list visits to sign and forms due as
    # a large site's do (with none, a small site's lists are empty and cheaper to show).
    helpers.synthetic_study(
        site, coordinator, count, every_form=True, backlog_every=min(50, count // 2)
    )
    participant = Participant.objects.filter(site=site).first()
    safety_services.report_adverse_event(
        participant=participant, data=helpers.ae_answers(), by=coordinator
    )
    vas = VasPain.objects.filter(participant=participant).first()
    raise_query(crf=vas, field="score_mm", question="Check the ruler", by=monitor)
    return site, coordinator


def settle() -> None:
    """Vacuum and analyse the study just made, as autovacuum would within minutes of a bulk
    load: the pages are then timed with the statistics of the study they read, and without
    autovacuum working through the new tables meanwhile (the benchmark runs as the owner); and
    count the audit rows of the transactions that have ended, as the audit trail's sealing task
    does every minute (trialsite/audit/settled.py)."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    settled.settle()


def session_of(user) -> str:
    """A signed-in session with the second factor, as after a real log-in."""
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = user.totpdevice_set.get().persistent_id
    session.save()
    return session.session_key


def write_plan(sites: list, path: Path) -> None:
    """For each simulated coordinator: a session, pages of their site to read, and a VAS
    form of their own to save, of a participant of their own. Those participants' IDs sort
    after the site's others, and their pages are not among those read: the small study's
    first pages (the dashboard's 25 participants) show the study's 25 participants with
    their forms, as a large site's show 25 of its thousand, and not 25 with none."""
    users = []
    for n in range(USERS):
        site, coordinator = sites[n % len(sites)]
        fresh = factories.participant_with_visits(
            site=site,
            by=coordinator,
            randomized_at=timezone.now() - timedelta(days=30),
            participant_id=f"{site.code}-Z{n:02d}",
        )  # M1 (day 30 ± 7) is in its window today
        ids = list(
            Participant.objects.filter(site=site)
            .exclude(participant_id__contains="-Z")
            .values_list("pk", flat=True)[:500]
        )
        forms = VasPain.objects.filter(participant__site=site).select_related("visit")[:500]
        now = timezone.localtime(timezone.now(), site.zone) - timedelta(hours=1)
        users.append(
            {
                "session": session_of(coordinator),
                "participants": [
                    reverse("participant_detail", args=[pk])
                    for pk in random.sample(ids, min(50, len(ids)))
                ],
                "forms": [
                    helpers.vas_url(vas.visit)
                    for vas in random.sample(list(forms), min(50, len(forms)))
                ],
                "save": helpers.vas_url(helpers.visit(fresh, "M1")),
                "answers": {
                    "assessed_at": f"{now:%Y-%m-%dT%H:%M}",
                    "knee": "R",
                    "method": "paper",
                    "mark_complete": "on",
                },
            }
        )
    path.write_text(json.dumps({"baseline": reverse("password_change"), "users": users}))


def prepare(label: str, sites: list, folder: Path) -> dict:
    """What the load asks the study for, made in its database before it is served: the plan
    of the simulated coordinators, and the pages of the last site made with its staff's
    sessions. (The last site's participants come last in study-wide orders, participant IDs,
    where a query reading a study-wide index passes over every other site's.)"""
    plan = folder / f"plan-{label}.json"
    write_plan(sites, plan)
    site = sites[-1][0]
    return {"plan": plan, "pages": every_page(site), "sessions": page_sessions(site)}


def _administer(*statements) -> None:
    db = settings.DATABASES["default"]
    connection.close()  # CREATE DATABASE … TEMPLATE needs the template to itself
    with psycopg.connect(
        dbname="postgres", user=db["USER"], password=db["PASSWORD"], host=db["HOST"],
        port=db["PORT"] or None, autocommit=True,
    ) as admin:  # fmt: skip
        for statement in statements:
            admin.execute(statement)


def copy_database(name: str) -> str:
    """A copy, named `name`, of the benchmark's database as it is now (the small study, with
    its plan and sessions): it serves the small study while the large one is made and served
    from the original, so that the two are timed in turns in the same minutes, and a slower
    minute of the machine slows both. Returns the application's URL of the copy."""
    _administer(
        sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)),
        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(settings.DATABASES["default"]["NAME"])
        ),
    )
    return urlunsplit(urlsplit(os.environ["APP_DATABASE_URL"])._replace(path=f"/{name}"))


def drop_database(name: str) -> None:
    _administer(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


# --- Serving and loading -------------------------------------------------------------------------
def serve(port: int, database: str) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "trialsite.wsgi", "--workers", "3",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": database},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live/", timeout=2):  # noqa: S310
                return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("gunicorn did not start")


def run_locust(
    port: int, plan: Path, folder: Path, *, users: int, seconds: int, page="", times=None
):
    """Locust's statistics per request name: (requests, failures, p50, p95, average response
    in KB, requests per second); with `times`, each request is added to that file too."""
    prefix = folder / f"stats-{page or 'mix'}"
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "benchmarks/load/locustfile.py"),
         "--headless", "--users", str(users), "--spawn-rate", str(users),
         "--run-time", f"{seconds}s", "--host", f"http://127.0.0.1:{port}",
         "--csv", str(prefix), "--only-summary", "--loglevel", "ERROR"],
        cwd=ROOT, env={**os.environ, "BENCH_LOAD_PLAN": str(plan), "BENCH_LOAD_PAGE": page,
                       "BENCH_LOAD_TIMES": str(times or "")},
        check=True, stdout=subprocess.DEVNULL, stderr=(folder / "locust.log").open("a"),
    )  # fmt: skip
    with open(f"{prefix}_stats.csv") as file:
        return {
            row["Name"]: (
                int(row["Request Count"]),
                int(row["Failure Count"]),
                float(row["50%"]),
                float(row["95%"]),
                float(row["Average Content Size"]) / 1024,
                float(row["Requests/s"]),
            )
            for row in csv.DictReader(file)
            if row["Name"] != "Aggregated"
        }


def every_page(site) -> list[tuple[str, str, str]]:
    """(page, role, URL): each page type of the site's users, lists and home pages included."""
    participant = Participant.objects.filter(site=site).order_by("pk").first()
    lot = SecretomeLot.objects.get(lot_number=f"{site.code}-SYN")  # given to every participant
    return [
        ("baseline", "coordinator", reverse("password_change")),
        ("home (coordinator)", "coordinator", reverse("home")),
        ("home (investigator)", "investigator", reverse("home")),
        ("home (monitor)", "monitor", reverse("home")),
        ("home (data manager)", "data-manager", reverse("home")),
        ("data quality", "data-manager", reverse("data_quality")),
        ("screening log", "coordinator", reverse("screening_log")),
        ("participant list", "coordinator", reverse("participant_list")),
        ("calendar", "coordinator", reverse("visit_calendar")),
        ("lot register", "coordinator", reverse("lot_list")),
        ("lot page", "coordinator", reverse("lot_detail", args=[lot.pk])),
        ("AE review queue", "investigator", reverse("review_queue")),
        ("re-verify list", "monitor", reverse("reverify_list")),
        ("deviation listing", "monitor", reverse("deviation_listing")),
        ("audit trail", "monitor", reverse("participant_audit", args=[participant.pk])),
        ("downloads", "data-manager", reverse("document_list")),
    ]


def page_sessions(site) -> dict:
    """A session for each of the site's roles that `every_page` signs in as."""
    return {
        role: session_of(User.objects.get(username=f"{site.code.lower()}-{role}"))
        for role in ("coordinator", "investigator", "monitor", "data-manager")
    }


def time_every_page(servers: dict, rounds: int = 21) -> dict:
    """Each page of each study asked for once a round, a page of one study and then the same
    page of the other (in turn first), for `rounds` rounds after two that warm the workers up:
    a moment of noise on the machine then slows one request of several pages, and a slower
    minute slows both studies alike. {study: {page: (median ms, KB)}}."""
    clients = {}
    for label, server in servers.items():
        for role, session in server["sessions"].items():
            clients[label, role] = requests.Session()
            clients[label, role].cookies.set("sessionid", session)
    times: dict = {(label, name): [] for label in servers for name, _, _ in servers[label]["pages"]}
    sizes = {}
    for n in range(rounds + 2):
        labels = list(servers) if n % 2 else list(servers)[::-1]
        for index in range(len(next(iter(servers.values()))["pages"])):
            for label in labels:
                name, role, url = servers[label]["pages"][index]
                start = time.perf_counter()
                response = clients[label, role].get(
                    f"http://127.0.0.1:{servers[label]['port']}{url}", timeout=60
                )
                times[label, name].append(time.perf_counter() - start)
                sizes[label, name] = len(response.content) / 1024
                if response.status_code != 200 or "/accounts/login/" in response.url:
                    raise RuntimeError(f"{label} {name}: {response.status_code} at {response.url}")
    return {
        label: {
            name: (statistics.median(times[label, name][2:]) * 1000, sizes[label, name])
            for name, _, _ in servers[label]["pages"]
        }
        for label in servers
    }


def mix_statistics(path: Path) -> dict:
    """Per request name, from each request Locust made (benchmarks/load/locustfile.py writes
    them): (requests, failures, p50, p95, largest response in KB)."""
    rows: dict[str, list] = {}
    for line in path.read_text().splitlines():
        name, ms, size, failed = json.loads(line)
        rows.setdefault(name, []).append((ms, size, failed))
    result = {}
    for name, requests_ in rows.items():
        ms = sorted(row[0] for row in requests_)
        result[name] = (
            len(requests_),
            sum(row[2] for row in requests_),
            statistics.median(ms),
            ms[min(len(ms) - 1, int(len(ms) * 0.95))],
            max(row[1] for row in requests_) / 1024,
        )
    return result


def measure(studies: dict, folder: Path) -> dict:
    """Both studies served at once, each by its own gunicorn from its own database, and timed
    in turns: the mix in ROUNDS turns of SECONDS / ROUNDS each, each page's throughput, and
    every page one request at a time (`time_every_page`)."""
    servers = {}
    try:
        for label, study in studies.items():
            port = helpers.free_port()
            servers[label] = {**study, "port": port, "process": serve(port, study["database"])}
        for server in servers.values():  # warm-up: not counted
            run_locust(server["port"], server["plan"], folder, users=USERS, seconds=10)
        for n in range(ROUNDS):
            for label in list(servers) if n % 2 == 0 else list(servers)[::-1]:
                run_locust(
                    servers[label]["port"], servers[label]["plan"], folder, users=USERS,
                    seconds=SECONDS // ROUNDS, times=folder / f"times-{label}.jsonl",
                )  # fmt: skip
        rates: dict = {label: {} for label in servers}
        for page in ("baseline", *THROUGHPUT):
            for label, server in servers.items():
                stats = run_locust(
                    server["port"], server["plan"], folder, users=8, seconds=10, page=page
                )
                rates[label][page] = sum(row[5] for row in stats.values())
        pages = time_every_page(servers)
    finally:
        for server in servers.values():
            server["process"].terminate()
            server["process"].wait(timeout=30)
    return {
        label: {
            "mix": mix_statistics(folder / f"times-{label}.jsonl"),
            "rates": rates[label],
            "pages": pages[label],
        }
        for label in servers
    }


# --- Report --------------------------------------------------------------------------------------
def report(label: str, result: dict, checks: list) -> None:
    mix = result["mix"]
    base = mix["baseline"][2]
    print(f"\n{label} study, {USERS} coordinators for {SECONDS} s:")
    print(f"  {'page':24} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'max KB':>6} {'÷ baseline p50':>15}")  # fmt: skip
    for name, (n, failed, p50, p95, kb) in sorted(mix.items()):
        print(f"  {name:24} {n:8d} {failed:6d} {p50:7.0f} {p95:7.0f} {kb:6.1f} {p50 / base:15.1f}")
        checks.append((f"{label}: {name} without errors", failed == 0))
        checks.append((f"{label}: {name} ≤ {MAX_PAGE_KB} KB", kb <= MAX_PAGE_KB))
        if name in P95_MS:
            checks.append((f"{label}: {name} p95 ≤ {P95_MS[name]} ms", p95 <= P95_MS[name]))
        if name in OVER_BASELINE:
            most = OVER_BASELINE[name]
            checks.append((f"{label}: {name} p50 ≤ {most} × baseline", p50 / base <= most))
    rates = result["rates"]
    for page, share in THROUGHPUT.items():
        ratio = rates[page] / rates["baseline"]
        print(f"  throughput, {page} alone: {rates[page]:.1f} requests/s = {ratio:.0%} of the "
              f"baseline's {rates['baseline']:.1f}")  # fmt: skip
        checks.append((f"{label}: {page} throughput ≥ {share:.0%} of baseline", ratio >= share))


def main() -> int:
    checks: list[tuple[str, bool]] = []
    small_database = f"{settings.DATABASES['default']['NAME']}_small"
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        start = time.perf_counter()
        small = [make_site("SML", 25)]
        settle()
        studies = {"small": prepare("small", small, folder)}
        print(f"(small study: 25 participants made in {time.perf_counter() - start:.1f} s)")
        studies["small"]["database"] = copy_database(small_database)
        try:
            start = time.perf_counter()
            large = [make_site(f"L{n:02d}", PER_SITE) for n in range(SITES)]
            settle()
            studies["large"] = prepare("large", large, folder)
            studies["large"]["database"] = os.environ["APP_DATABASE_URL"]
            print(f"(large study: {SITES} × {PER_SITE} participants made in "
                  f"{time.perf_counter() - start:.0f} s)")  # fmt: skip
            results = measure(studies, folder)
        finally:
            drop_database(small_database)
    small_result, large_result = results["small"], results["large"]
    report("small", small_result, checks)
    report("large", large_result, checks)
    print("\nlarge study's median ÷ small study's, per page:")
    for name, row in sorted(large_result["mix"].items()):
        if name in small_result["mix"]:
            ratio = row[2] / max(small_result["mix"][name][2], 1)
            print(f"  {name:24} {ratio:.2f}")
            checks.append((f"{name} large ÷ small ≤ {LARGE_OVER_SMALL}", ratio <= LARGE_OVER_SMALL))
    print("\nevery page type, one request at a time (median of 21 rounds; large ÷ small; KB):")
    for name, (large_ms, kb) in large_result["pages"].items():
        small_ms = small_result["pages"][name][0]
        ratio = large_ms / small_ms
        print(f"  {name:24} {small_ms:6.0f} ms {large_ms:6.0f} ms {ratio:5.2f} {kb:6.1f} KB")
        checks.append((f"{name} large ÷ small ≤ {LARGE_OVER_SMALL}", ratio <= LARGE_OVER_SMALL))
        checks.append((f"{name} ≤ {MAX_PAGE_KB} KB", kb <= MAX_PAGE_KB))
    missed = [name for name, ok in checks if not ok]
    print("\nall targets met" if not missed else "\nMISSED: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    sys.exit(main())
