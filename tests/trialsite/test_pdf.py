"""Long PDFs laid out in parts by several worker processes: the same pages, text, page numbers
and bookmarks as one rendering of the whole."""

import io
import os
import re
import subprocess
import sys

import pikepdf
import pytest
from django.db import connections
from django.utils import timezone

from monitoring import casebook, documents
from monitoring.models import Document
from safety import services as safety_services
from tests.helpers import ae_answers, pdf_text, wait_for
from trialsite import pdf, spread
from trialsite.celery import app

pytestmark = pytest.mark.django_db


def layout_text(content: bytes, tmp_path) -> list[str]:
    """Each page's text as pdftotext lays it out."""
    path = tmp_path / "out.pdf"
    path.write_bytes(content)
    return pdf_text(str(path)).split("\f")[:-1]


def outline(content: bytes) -> list:
    """The bookmark tree: (title, page index, children) for each entry."""
    with pikepdf.Pdf.open(io.BytesIO(content)) as document:
        pages = {page.objgen: index for index, page in enumerate(document.pages)}
        with document.open_outline() as tree:

            def walk(items):
                return [
                    (
                        item.title,
                        pages[(item.destination or item.action.D)[0].objgen],
                        walk(item.children),
                    )
                    for item in items
                ]

            return walk(tree.root)


def report_adverse_events(participant, count: int, by) -> None:
    for number in range(1, count + 1):
        safety_services.report_adverse_event(
            participant=participant,
            data=ae_answers(verbatim_term=f"Knee effusion {number}", relationship_prgf="unlikely"),
            by=by,
        )


def render_casebook(participant, user, *, parts: int, settings) -> pdf.Pdf:
    settings.PDF_PARTS = parts
    settings.PDF_PARALLEL_FROM_CHARS = 0
    head = casebook.header(participant)
    return pdf.render_pdf(
        "pdf/casebook.html",
        {"title": "Casebook", **head, **casebook.casebook(participant, user)},
        by=user,
        zone=head["zone"],
    )


def test_a_casebook_laid_out_in_parts_is_the_casebook_laid_out_whole(
    spread_workers,
    monitor,
    coordinator,
    entered,
    settings,
    monkeypatch,
    tmp_path,
):
    visit, *_ = entered
    participant = visit.participant
    report_adverse_events(participant, casebook.LOG_ENTRIES_PER_PART + 2, coordinator)
    generated = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: generated)  # the same minute on both
    whole = render_casebook(participant, monitor, parts=1, settings=settings)

    calls = []

    def counted(name, inputs):
        outputs, elsewhere = spread.spread(name, inputs)
        calls.append((name.rpartition(".")[2], len(inputs), elsewhere))
        return outputs, elsewhere

    def not_whole(*args):
        raise AssertionError("laid out whole")

    monkeypatch.setattr(pdf, "spread", counted)
    monkeypatch.setattr(pdf, "_render_whole", not_whole)
    laid_out = []
    settings.PDF_PARTS = 6
    head = casebook.header(participant)
    parts = pdf.render_pdf(
        "pdf/casebook.html",
        {"title": "Casebook", **head, **casebook.casebook(participant, monitor)},
        by=monitor,
        zone=head["zone"],
        laid_out=laid_out.append,
    )
    # Groups of parts, then the page numbers in three, laid out by the worker processes and
    # this one (the workers have no database: they lay out what they are given).
    (name, count, elsewhere), numbers = calls
    assert name == "lay_out_part" and count >= 4 and numbers[:2] == ("number_pages", 3)
    assert elsewhere + numbers[2] >= 1
    assert parts.pages == whole.pages == laid_out[0] >= 12
    # The same text at the same places on every page, page numbers included.
    whole_pages = layout_text(whole.content, tmp_path)
    assert layout_text(parts.content, tmp_path) == whole_pages
    for number, page in enumerate(whole_pages, start=1):
        assert f"Page {number} of {whole.pages}" in page
    # The same bookmarks, nested the same way, to the same pages.
    assert outline(parts.content) == outline(whole.content)
    chapters = [title for title, *_ in outline(whole.content)[0][2]]
    assert chapters[:2] == ["Contents", "Enrollment"] and chapters[2].startswith("Visit SCR")
    # The document information of the whole.
    with pikepdf.open(io.BytesIO(parts.content)) as document:
        assert str(document.docinfo["/Title"]) == "Casebook"


def test_every_ninth_adverse_event_and_a_long_audit_trail_start_a_page(
    monitor,
    coordinator,
    entered,
    settings,
    tmp_path,
):
    visit, *_ = entered
    report_adverse_events(visit.participant, casebook.LOG_ENTRIES_PER_PART + 1, coordinator)
    data = casebook.casebook(visit.participant, monitor)
    adverse_events, *others = data["logs"]
    assert [log.name for log in others] == ["concomitant_medication", "deviation"]
    assert [len(part) for part in adverse_events.parts] == [8, 1]
    lines = [max(2, len(entry["changes"])) for entry in data["audit"]]
    assert sum(lines) > casebook.AUDIT_LINES_PER_PART and len(data["audit_parts"]) >= 2
    for part in data["audit_parts"]:
        assert sum(max(2, len(entry["changes"])) for entry in part) <= max(
            casebook.AUDIT_LINES_PER_PART, max(lines)
        )
    assert [entry for part in data["audit_parts"] for entry in part] == data["audit"]
    pages = layout_text(
        render_casebook(visit.participant, monitor, parts=1, settings=settings).content,
        tmp_path,
    )
    starts = [page for page in pages if "Adverse event 9: Knee effusion 9" in page]
    assert len(starts) == 1
    body = starts[0].split("\n", 2)[2].lstrip()  # past the running head
    assert body.startswith("Adverse event 9: Knee effusion 9")


def test_groups_are_consecutive_parts_of_about_equal_length():
    parts = ["a" * n for n in (5, 40, 3, 3, 30, 10, 1, 25)]
    grouped = pdf.groups(parts, 4)
    assert "".join(grouped) == "".join(parts) and len(grouped) <= 5
    assert all(grouped)
    assert pdf.groups(["x"], 4) == ["x"]


@pytest.mark.django_db(transaction=True)
def test_a_long_casebook_is_laid_out_in_parts_by_a_prefork_worker(
    monitor, coordinator, entered, settings, tmp_path
):
    """As in production: the document task in Celery's prefork pool hands parts to the pool's
    other process."""
    visit, *_ = entered
    report_adverse_events(visit.participant, casebook.LOG_ENTRIES_PER_PART + 1, coordinator)
    settings.MEDIA_ROOT = tmp_path / "media"
    database = connections["default"].settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PDF_PARTS": "4",
    }
    command = [sys.executable, "-m", "celery", "-A", "trialsite", "worker", "--pool=prefork"]
    options = ["--concurrency=2", "--without-mingle", "--without-gossip", "--loglevel=INFO"]
    app.control.purge()  # only this test's task for the worker
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            [*command, *options], env=env, cwd=settings.BASE_DIR, stdout=output, stderr=output
        )
    try:
        document = documents.request_document(
            kind="casebook", data={"participant": visit.participant_id}, by=monitor
        )
        assert wait_for(
            lambda: Document.objects.get(pk=document.pk).status in {"ready", "failed"},
            seconds=120,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    document.refresh_from_db()
    assert document.status == "ready", document.error
    logged = log.read_text()
    spread_over = re.search(rf"Laid out {document.pages} pages in \d parts, (\d) of them", logged)
    assert spread_over and int(spread_over[1]) >= 1, logged
    pages = layout_text(document.file.read(), tmp_path)
    assert f"Page {document.pages} of {document.pages}" in pages[-1]
