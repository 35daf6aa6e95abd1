"""Speed and memory of the PDFs and exports, against the targets of the PDFs-and-exports issue:

- a 2-page completed CRF in at most 0.6 s;
- casebooks at 10 pages per second or more, with the time per page at about 100 pages at most
  1.3 times the time per page at about 20 pages;
- CSV and ODM exports of 1,000 synthetic participants with peak memory growth of 100 MB or less.

Each figure is printed with its ratio to a baseline measured in the same process (a one-line
PDF; an export of 10 participants), so runs on different machines compare. Casebooks are laid
out in parts on PDF_PROCESSES processes (trialsite/pdf.py), as the worker does; the large one
is also timed in one process, for comparison. Everything is made
inside one transaction that is rolled back. Run with `make bench`; exits 1 if a target is missed.
"""

import ctypes
import gc
import io
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trialsite.settings")

import django  # noqa: E402
import pikepdf  # noqa: E402

django.setup()
for quiet in ("trialsite.pdf", "pikepdf"):  # their INFO lines would interleave with the figures
    logging.getLogger(quiet).setLevel(logging.WARNING)

from django.conf import settings  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from monitoring import documents, exports, odm  # noqa: E402
from safety import services as safety_services  # noqa: E402
from tests import factories, helpers  # noqa: E402
from trialsite import roles  # noqa: E402
from trialsite.celery import app  # noqa: E402
from trialsite.pdf import render_pdf  # noqa: E402
from visits.models import Visit  # noqa: E402

CRF_SECONDS = 0.6
PAGES_PER_SECOND = 10
PER_PAGE_RATIO = 1.3
MEMORY_MB = 100


def best_of(runs: int, action) -> tuple[float, object]:
    """The fastest of `runs` timings (the least disturbed by the machine), and the result."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return min(times), result


def peak_growth_mb(action) -> float:
    """Peak resident memory during `action` above the resident memory before it (Linux)."""

    def status(key: str) -> int:
        text = Path("/proc/self/status").read_text()
        return int(re.search(rf"{key}:\s+(\d+)", text).group(1))

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed memory back, so growth shows
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
    before = status("VmRSS")
    action()
    return (status("VmHWM") - before) / 1024


# --- Data ----------------------------------------------------------------------------------------
def staff(code: str = "BEN"):
    site = factories.SiteFactory(code=code, name=f"Benchmark site {code}")
    coordinator = factories.UserFactory(
        username=f"{code.lower()}-coordinator", role=roles.COORDINATOR, sites=[site]
    )
    monitor = factories.UserFactory(
        username=f"{code.lower()}-monitor", role=roles.MONITOR, sites=[site]
    )
    return site, coordinator, monitor


def casebook_participant(site, by, *, adverse_events: int, changes: int):
    participant = factories.participant_with_visits(site=site, arm="A", by=by)
    helpers.enter_forms(participant, by, changes=changes)
    for n in range(adverse_events):
        safety_services.report_adverse_event(
            participant=participant,
            data=helpers.ae_answers(
                verbatim_term=f"Knee swelling {n + 1}", outcome="not_recovered"
            ),
            by=by,
        )
    return participant


# --- Measurements --------------------------------------------------------------------------------
def measure_pdfs(site, coordinator, monitor) -> list[bool]:
    from weasyprint import HTML

    HTML(string="<p>warm-up</p>").write_pdf()  # the first rendering loads fonts
    baseline, _ = best_of(5, lambda: render_pdf("pdf/base.html", {"title": "Baseline"}, by=monitor))
    print(f"baseline: a one-line PDF page in {baseline:.3f} s")

    participant = casebook_participant(site, coordinator, adverse_events=0, changes=0)
    visit = Visit.objects.get(participant=participant, code="M0")
    with tempfile.TemporaryDirectory() as folder:
        seconds, built = best_of(
            5,
            lambda: documents.KINDS["visit_crfs"].build(
                {"visit": visit.pk}, monitor, lambda *a: None, Path(folder)
            ),
        )
    crf_ok = seconds <= CRF_SECONDS
    print(
        f"completed CRF, {built.pages} pages: {seconds:.3f} s = {seconds / baseline:.1f} × baseline"
        f" (target ≤ {CRF_SECONDS} s) {'ok' if crf_ok else 'MISSED'}"
    )

    small = casebook_participant(site, coordinator, adverse_events=0, changes=0)
    large = casebook_participant(site, coordinator, adverse_events=60, changes=20)
    per_page = {}
    for name, who in (("small", small), ("large", large)):
        with tempfile.TemporaryDirectory() as folder:
            seconds, built = best_of(
                3,
                lambda who=who, folder=folder: documents.KINDS["casebook"].build(
                    {"participant": who.pk}, monitor, lambda *a: None, Path(folder)
                ),
            )
        per_page[name] = (seconds / built.pages, built.pages, seconds)
    rates_ok = True
    for each, pages, seconds in per_page.values():
        rate = 1 / each
        ok = rate >= PAGES_PER_SECOND
        rates_ok &= ok
        print(
            f"casebook, {pages} pages: {seconds:.2f} s, {rate:.1f} pages/s, "
            f"{each / baseline:.2f} × baseline per page (target ≥ {PAGES_PER_SECOND} pages/s) "
            f"{'ok' if ok else 'MISSED'}"
        )
    same = spread_over_workers(large, monitor)
    verdict = "ok" if same else "MISSED"
    print(f"the same PDF (pages, text per page, bookmarks) either way: {verdict}")
    ratio = per_page["large"][0] / per_page["small"][0]
    ratio_ok = ratio <= PER_PAGE_RATIO
    print(
        f"casebook time per page, {per_page['large'][1]} vs {per_page['small'][1]} pages: "
        f"{ratio:.2f} (target ≤ {PER_PAGE_RATIO}) {'ok' if ratio_ok else 'MISSED'}"
    )
    return [crf_ok, rates_ok, ratio_ok, same]


def spread_over_workers(participant, monitor) -> bool:
    """The casebook laid out whole, then in parts by 1 process (this one, as the document task
    alone) and by 2 (this one and a Celery worker process started here): pages per second of
    each, and whether the three PDFs are the same."""
    generated = timezone.now()
    real_now, timezone.now = timezone.now, lambda: generated  # the same header on each
    made = {}
    worker = None
    try:
        for label, parts, processes in (("whole", 1, 1), ("in parts", settings.PDF_PARTS, 1),
                                        ("in parts", settings.PDF_PARTS, 2)):  # fmt: skip
            if processes == 2:
                worker = start_worker()
            with override_settings(PDF_PARTS=parts), tempfile.TemporaryDirectory() as folder:
                seconds, built = best_of(
                    2,
                    lambda folder=folder: documents.KINDS["casebook"].build(
                        {"participant": participant.pk}, monitor, lambda *a: None, Path(folder)
                    ),
                )
                content = Path(built.path).read_bytes()
            made[(label, processes)] = pdf_facts(content)
            print(
                f"casebook of {built.pages} pages laid out {label} by {processes} "
                f"worker process{'es' if processes > 1 else ''}: {seconds:.2f} s, "
                f"{built.pages / seconds:.1f} pages/s"
            )
    finally:
        timezone.now = real_now
        if worker:
            worker.terminate()
            worker.wait(timeout=60)
    return len(set(made.values())) == 1


def start_worker() -> subprocess.Popen:
    """A Celery worker with one pool process, answering before it is given work."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "trialsite", "worker", "--concurrency=1",
         "--without-mingle", "--without-gossip", "--loglevel=WARNING"],
        cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    app.control.purge()
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if time.monotonic() > deadline:
            raise RuntimeError("the Celery worker did not start")
    return worker


def pdf_facts(content: bytes) -> tuple:
    """Page count, each page's text, and the bookmarks (title, page, depth) of a PDF."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(content)
        file.flush()
        pages = tuple(helpers.pdf_text(file.name).split("\f")[:-1])
    with pikepdf.Pdf.open(io.BytesIO(content)) as document:
        numbers = {page.objgen: index for index, page in enumerate(document.pages)}
        marks = []
        with document.open_outline() as outline:

            def walk(items, depth):
                for item in items:
                    target = (item.destination or item.action.D)[0].objgen
                    marks.append((str(item.title), numbers[target], depth))
                    walk(item.children, depth + 1)

            walk(outline.root, 0)
    return len(pages), pages, tuple(marks)


def measure_exports(monitor, small_monitor, count: int) -> list[bool]:
    """Peak memory growth of the CSV and ODM exports of `monitor`'s site (`count`
    participants) against those of a site of 10 participants."""

    def run(kind: str, user) -> float:
        with tempfile.TemporaryDirectory() as folder:
            if kind == "csv":
                action = lambda: exports.export_csv_zip(Path(folder) / "x.zip", user=user)  # noqa: E731
            else:
                action = lambda: odm.write_odm(Path(folder) / "x.xml", user=user)  # noqa: E731
            return peak_growth_mb(action)

    results = []
    for kind in ("csv", "odm"):
        baseline = statistics.median(run(kind, small_monitor) for _ in range(3))
        start = time.perf_counter()
        growth = run(kind, monitor)
        seconds = time.perf_counter() - start
        ok = growth <= MEMORY_MB
        results.append(ok)
        print(
            f"{kind.upper()} export of {count} participants: {seconds:.1f} s, "
            f"peak memory growth {growth:.1f} MB; 10 participants: {baseline:.1f} MB "
            f"(ratio {growth / max(baseline, 0.1):.1f}; target ≤ {MEMORY_MB} MB) "
            f"{'ok' if ok else 'MISSED'}"
        )
    return results


def main() -> int:
    count = int(os.environ.get("BENCH_PARTICIPANTS", "1000"))
    with transaction.atomic():
        site, coordinator, monitor = staff()
        small_site, small_coordinator, small_monitor = staff("B10")
        start = time.perf_counter()
        helpers.synthetic_study(site, coordinator, count)
        helpers.synthetic_study(small_site, small_coordinator, 10)
        print(f"(made {count} + 10 synthetic participants in {time.perf_counter() - start:.1f} s)")
        passed = measure_exports(monitor, small_monitor, count)
        passed += measure_pdfs(site, coordinator, monitor)
        transaction.set_rollback(True)
    print("all targets met" if all(passed) else "some targets MISSED")
    return 0 if all(passed) else 1


if __name__ == "__main__":
    sys.exit(main())
