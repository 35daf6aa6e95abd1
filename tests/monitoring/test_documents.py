"""PDFs (blank and completed CRFs, casebooks, AE listing) and exports made in the background:
content and order, page furniture, de-duplication, staleness, failure and retry, permissions,
and the log of every export and download."""

import csv
import hashlib
import io
import re
import time
import zipfile
from pathlib import Path

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from lxml import etree
from playwright.sync_api import expect

from monitoring import casebook, documents, queries, signatures
from monitoring.models import Document, ExportLog
from outcomes.models import VasPain, Womac
from safety import services as safety_services
from tests import factories, helpers
from tests.helpers import ae_answers, change_vas, form_url, log_in, pdf_text, screenshot, wait_for
from trialsite import roles
from trialsite.audit import chain
from trialsite.crf import locking, registry
from trialsite.crf.registry import Kind
from trialsite.crf.services import save_crf
from trialsite.outbox import services as outbox
from trialsite.outbox.models import OutboxMessage
from visits.models import Visit

pytestmark = pytest.mark.django_db

ARM_ROW = re.compile(r"^\s*Arm\s{2,}\S", re.MULTILINE)
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


make = helpers.make_document


def in_order(text: str, needles: list[str]) -> bool:
    position = -1
    for needle in needles:
        found = text.find(needle, position + 1)
        if found < 0:
            return False
        position = found
    return True


def screen_field_names(html: str) -> list[str]:
    """The item names of a CRF page's form, in document order (controls left out)."""
    form = html[html.index('<form method="post" novalidate class="crf-form">') :]
    names = []
    for name in re.findall(r'name="([a-z0-9_]+)"', form):
        if (
            name
            not in casebook.CONTROL_FIELDS
            | {"csrfmiddlewaretoken", "save", "save_next", "save_exit"}
            and name not in names
        ):
            names.append(name)
    return names


def test_every_form_entered_here_lays_its_page_out_from_its_sections(client, coordinator, entered):
    visit, *_ = entered
    client.force_login(coordinator)
    checked = []
    for definition in registry.forms():
        if not definition.entered_here:
            continue
        assert definition.form._meta.model is definition.model
        if definition.kind == Kind.PER_VISIT:
            if not definition.due_at(visit):
                continue
            page = client.get(form_url(definition.name, visit=visit)).content.decode()
        else:
            page = client.get(
                form_url(definition.name, participant=visit.participant)
            ).content.decode()
        form = definition.form(participant=visit.participant, visit=visit, user=coordinator)
        sections = [b.name for _, bounds in form.sections() for b in bounds]
        assert screen_field_names(page) == sections, definition.name
        checked.append(definition.name)
    assert {"vas_pain", "injection", "adverse_event"} <= set(checked)


def test_the_completed_crf_pdf_prints_the_values_in_screen_order(
    client, monitor, entered, django_capture_on_commit_callbacks
):
    visit, vas, womac = entered
    document = make("visit_crfs", {"visit": visit.pk}, monitor, django_capture_on_commit_callbacks)
    assert document.status == "ready", document.error
    text = pdf_text(document)
    # Every page: study, site, participant, page X of Y, time of generation.
    pages = text.split("\f")[:-1]
    assert len(pages) == document.pages >= 2
    for number, page in enumerate(pages, start=1):
        assert "NCT07157891" in page and "Site: LHR" in page
        assert f"Participant: {visit.participant.participant_id}" in page
        assert f"Page {number} of {len(pages)}" in page and "generated 20" in page
    # The VAS items in the order of the page, each with its value.
    client.force_login(monitor)
    page = client.get(form_url("vas_pain", visit=visit)).content.decode()
    form = registry.get("vas_pain").form(instance=vas, visit=visit)
    reasons = set(form.reasons.values())  # printed in their item's place
    labels = [str(form[name].label) for name in screen_field_names(page) if name not in reasons]
    assert in_order(text, labels)
    assert in_order(text, [labels[0], "PKT", labels[1], "Right (R)", labels[2], "63"])
    # WOMAC: the knee, then the pain items, stiffness, function, in the page's order.
    womac_labels = [
        str(registry.get("womac").form(instance=womac)[n].label)
        for n in ["knee", "p1", "p5", "s1", "s2", "f1", "f17"]
    ]
    assert in_order(text[text.index("WOMAC") :], [label[:20] for label in womac_labels])
    assert "2 Moderate" in text and "Moderate (2)" not in text


def test_a_blank_crf_shows_each_item_with_its_code_and_answer_codes(
    coordinator, lahore, django_capture_on_commit_callbacks
):
    for definition in documents.blank_crf_forms(coordinator):
        name = definition.name
        document = make(
            "blank_crf", {"form": name}, coordinator, django_capture_on_commit_callbacks
        )
        assert document.status == "ready", document.error
        assert document.file.name.endswith(f"blank-crf-{name}.pdf")
    document = Document.objects.get(params={"form": "womac"})
    text = pdf_text(document)
    assert "Participant: ________" in text and "Page 1 of" in text
    assert in_order(
        text, ["knee", "Pain", "p1", "p5", "Stiffness", "s1", "Physical function", "f1"]
    )
    assert "None [0]" in text and "Extreme [4]" in text
    vas_text = pdf_text(Document.objects.get(params={"form": "vas_pain"}))
    assert in_order(vas_text, ["assessed_at", "knee", "score_mm", "method"])


def test_the_casebook_holds_visits_adverse_events_queries_signatures_and_the_audit_trail(
    monitor, investigator, coordinator, entered, django_capture_on_commit_callbacks
):
    visit, vas, _ = entered
    participant = visit.participant
    safety_services.report_adverse_event(
        participant=participant,
        data=ae_answers(verbatim_term="Knee effusion", relationship_prgf="unlikely"),
        by=coordinator,
    )
    query = queries.raise_query(
        crf=vas, field="score_mm", question="Please check the score.", by=monitor
    )
    queries.answer_query(query=query, text="Checked against the paper form.", by=coordinator)
    change_vas(vas, coordinator, score=58)
    signatures.sign(
        participant=participant, visit=visit, password=factories.PASSWORD, by=investigator
    )
    document = make(
        "casebook", {"participant": participant.pk}, monitor, django_capture_on_commit_callbacks
    )
    assert document.status == "ready", document.error
    text = pdf_text(document)
    assert in_order(
        text,
        [
            f"Casebook of participant {participant.participant_id}",
            "Enrollment",
            "Screening",
            "Informed consent",
            "Randomization",
            "Visit M0",
            "VAS pain",
            "58",
            "Visit M1",
            "Adverse events",
            "Adverse event 1: Knee effusion",
            "Queries",
            "Please check the score.",
            "Checked against the paper form.",
            "Signatures",
            "Appendix: audit trail",
            "correction",
        ],
    )
    assert re.search(rf"Audit chain head\s+link {chain.head().position}:", text)
    assert ARM_ROW.search(text) and "Injection" in text
    # Values stored beside the form's questions are printed with it: the WOMAC's scores.
    assert in_order(text, ["WOMAC", "Recorded with the form", "pain, normalised"])
    assert document.pages >= 10 and f"Page {document.pages} of {document.pages}" in text


def test_a_blinded_reader_gets_no_arm_in_the_casebook(
    lahore, entered, django_capture_on_commit_callbacks
):
    visit, *_ = entered
    reader = factories.UserFactory(username="reader", role="Monitor", sites=[lahore])
    reader.is_blinded_assessor = True
    reader.save()
    document = make(
        "casebook",
        {"participant": visit.participant_id},
        reader,
        django_capture_on_commit_callbacks,
    )
    text = pdf_text(document)
    assert "Casebook of participant" in text
    assert not ARM_ROW.search(text) and "Injection" not in text and "PRGF preparation" not in text


def test_templates_get_ready_data_and_never_query(monitor, entered, django_assert_num_queries):
    visit, *_ = entered
    data = casebook.casebook(visit.participant, monitor)
    head = casebook.header(visit.participant)
    with django_assert_num_queries(0):
        html = render_to_string("pdf/casebook.html", {"title": "Casebook", **head, **data})
    assert "VAS pain" in html


def test_asking_twice_renders_once(monitor, entered, django_capture_on_commit_callbacks):
    visit, *_ = entered
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = documents.request_document(
            kind="casebook", data={"participant": visit.participant_id}, by=monitor
        )
        second = documents.request_document(
            kind="casebook", data={"participant": visit.participant_id}, by=monitor
        )
    assert first.pk == second.pk and len(callbacks) == 1
    # The task delivered twice: the second delivery finds it claimed and does nothing.
    documents.render_document(first.pk)
    rendered = documents.render_document(first.pk)
    assert rendered.attempts == 1 and rendered.status == "ready"
    # Asked again with unchanged data: the ready file is reused.
    again = documents.request_document(
        kind="casebook", data={"participant": visit.participant_id}, by=monitor
    )
    assert again.pk == first.pk and Document.objects.count() == 1


def test_a_stale_file_is_made_again_when_downloaded(
    client, monitor, coordinator, entered, django_capture_on_commit_callbacks
):
    visit, vas, _ = entered
    document = make("visit_crfs", {"visit": visit.pk}, monitor, django_capture_on_commit_callbacks)
    assert not documents.is_stale(document)
    change_vas(vas, coordinator, score=71)
    assert documents.is_stale(document)
    client.force_login(monitor)
    status = client.get(reverse("document_status", args=[document.pk])).content.decode()
    assert "The data changed after this file was made" in status
    assert "Out of date" in client.get(reverse("document_list")).content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        response = client.get(reverse("document_download", args=[document.pk]))
    fresh = Document.objects.exclude(pk=document.pk).get()
    assert response["Location"] == reverse("document_status", args=[fresh.pk])
    assert "71" in pdf_text(documents.render_document(fresh.pk))
    assert not ExportLog.objects.exists()  # nothing was downloaded yet
    earlier = client.get(reverse("document_download", args=[document.pk]) + "?earlier=1")
    assert b"".join(earlier.streaming_content).startswith(b"%PDF")
    assert ExportLog.objects.get().document == document


def test_a_download_is_logged_and_matches_its_sha256(
    client, monitor, entered, django_capture_on_commit_callbacks
):
    visit, *_ = entered
    document = make(
        "casebook",
        {"participant": visit.participant_id},
        monitor,
        django_capture_on_commit_callbacks,
    )
    client.force_login(monitor)
    tray = client.get(reverse("document_tray")).content.decode()
    assert "is ready: download" in tray
    response = client.get(reverse("document_download", args=[document.pk]))
    content = b"".join(response.streaming_content)
    assert hashlib.sha256(content).hexdigest() == document.sha256
    log = ExportLog.objects.get()
    assert (log.user, log.document) == (monitor, document) and "Downloaded Casebook" in log.what
    assert "is ready" not in client.get(reverse("document_tray")).content.decode()


def test_a_failed_render_says_so_and_can_be_retried(
    client, monitor, entered, monkeypatch, django_capture_on_commit_callbacks
):
    visit, *_ = entered

    def broken(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(casebook, "casebook", broken)
    document = make(
        "casebook",
        {"participant": visit.participant_id},
        monitor,
        django_capture_on_commit_callbacks,
    )
    assert document.status == "failed" and "renderer crashed" in document.error
    client.force_login(monitor)
    page = client.get(reverse("document_status", args=[document.pk])).content.decode()
    assert "could not be made" in page and "Try again" in page
    assert "failed" in client.get(reverse("document_tray")).content.decode()
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("document_status", args=[document.pk]))
    retry = Document.objects.exclude(pk=document.pk).get()
    assert response["Location"] == reverse("document_status", args=[retry.pk])
    assert len(callbacks) == 1 and documents.render_document(retry.pk).status == "ready"


def test_who_may_ask_for_what(client, coordinator, monitor, entered, islamabad):
    visit, *_ = entered
    client.force_login(coordinator)
    for kind, data in (
        ("casebook", {"participant": visit.participant_id}),
        ("visit_crfs", {"visit": visit.pk}),
        ("csv_export", {}),
        ("odm_export", {}),
        ("analysis", {"name": "analysis_visits"}),
    ):
        response = client.post(reverse("document_request"), {"kind": kind, **data})
        assert response.status_code == 403, kind
    assert (
        client.post(reverse("document_request"), {"kind": "blank_crf", "form": "womac"}).status_code
        == 302
    )
    assert (
        client.post(reverse("document_request"), {"kind": "blank_crf", "form": "nope"}).status_code
        == 404
    )
    assert client.post(reverse("document_request"), {"kind": "nope"}).status_code == 404
    other = factories.UserFactory(username="monitor-isb", role="Monitor", sites=[islamabad])
    client.force_login(other)
    asked = {"kind": "analysis", "name": "analysis_of_everything"}
    assert client.post(reverse("document_request"), asked).status_code == 404
    assert (
        client.post(
            reverse("document_request"), {"kind": "casebook", "participant": visit.participant_id}
        ).status_code
        == 404
    )
    assert (
        client.post(
            reverse("document_request"), {"kind": "casebook", "participant": "x"}
        ).status_code
        == 404
    )
    document = Document.objects.get()  # the coordinator's blank CRF
    assert client.get(reverse("document_status", args=[document.pk])).status_code == 404
    assert client.get(reverse("document_download", args=[document.pk])).status_code == 404
    assert Document.objects.count() == 1


def _csv(archive: zipfile.ZipFile, name: str) -> list[dict]:
    return list(csv.DictReader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))


def test_an_export_of_a_locked_study_equals_its_data(
    data_manager, entered, settings, django_capture_on_commit_callbacks
):
    visit, vas, womac = entered
    locking.lock(reason="database lock for analysis", scope="study", by=data_manager)
    csv_export = make("csv_export", {}, data_manager, django_capture_on_commit_callbacks)
    odm_export = make("odm_export", {}, data_manager, django_capture_on_commit_callbacks)
    assert csv_export.status == odm_export.status == "ready"
    with zipfile.ZipFile(csv_export.file.path) as archive:
        expected = {f"{f.name}.csv" for f in registry.visible_forms(data_manager)}
        expected |= {"analysis_visits.csv", "analysis_participants.csv", "data_dictionary.csv"}
        assert set(archive.namelist()) == expected
        (vas_row,) = _csv(archive, "vas_pain.csv")
        (womac_row,) = _csv(archive, "womac.csv")
    stored = VasPain.objects.get()
    assert (vas_row["score_mm"], vas_row["knee"], vas_row["version"]) == (
        str(stored.score_mm),
        stored.knee,
        str(stored.version),
    )
    stored_womac = Womac.objects.get()
    assert all(womac_row[f"p{i}"] == str(getattr(stored_womac, f"p{i}")) for i in range(1, 6))
    schema = etree.XMLSchema(etree.parse(str(settings.ODM_SCHEMA_DIR / "ODM1-3-2.xsd")))
    xml = etree.parse(odm_export.file.path)
    assert schema.validate(xml), schema.error_log
    values = dict(
        (item.get("ItemOID"), item.get("Value"))
        for item in xml.xpath("//odm:FormData[@FormOID='F.WOMAC']//odm:ItemData", namespaces=NS)
    )
    assert values["IT.WOMAC.P1"] == str(stored_womac.p1) and values["IT.WOMAC.KNEE"] == "R"
    logged = ExportLog.objects.filter(user=data_manager).values_list("document_id", flat=True)
    assert set(logged) == {csv_export.pk, odm_export.pk}


@pytest.mark.django_db(transaction=True)
def test_the_render_task_runs_once_in_a_real_worker_when_asked_twice(
    worker, client, monitor, entered
):
    visit, *_ = entered
    client.force_login(monitor)
    data = {"kind": "casebook", "participant": visit.participant_id}
    first = client.post(reverse("document_request"), data)
    second = client.post(reverse("document_request"), data)
    assert first["Location"] == second["Location"]
    assert wait_for(lambda: Document.objects.get().status == "ready", seconds=90)
    document = Document.objects.get()
    assert document.attempts == 1 and document.progress_label == "Ready"


def test_the_ae_listing_pdf_keeps_the_filters_and_order_of_the_page(
    client, monitor, coordinator, arm_a, django_capture_on_commit_callbacks
):
    for term in ("Knee effusion", "Headache", "Injection-site pain"):
        safety_services.report_adverse_event(
            participant=arm_a, data=ae_answers(verbatim_term=term), by=coordinator
        )
    client.force_login(monitor)
    listing = client.get(reverse("ae_listing")).content.decode()
    assert 'name="kind" value="ae_listing"' in listing
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("document_request"), {"kind": "ae_listing", "related": "yes", "sort": "onset"}
        )
    document = Document.objects.get()
    assert response["Location"] == reverse("document_status", args=[document.pk])
    assert len(callbacks) == 1 and document.params["filters"]["sort"] == ["onset"]
    text = pdf_text(documents.render_document(document.pk))
    assert "Adverse event listing" in text and "Page 1 of 1" in text
    assert text.index("Knee effusion") < text.index("Headache") < text.index("Injection-site pain")
    assert arm_a.participant_id in text and "Site: LHR" in text


def test_the_casebook_reads_the_same_number_of_queries_whatever_the_visits(
    monitor, coordinator, entered
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    visit, *_ = entered
    participant = visit.participant

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            casebook.casebook(participant, monitor)
        return len(captured)

    queries()  # the first call fills caches (labels, permissions)
    before = queries()
    for code in ("M1", "M3", "M6", "M9"):
        save_crf(
            crf_class=VasPain,
            visit=Visit.objects.get(participant=participant, code=code),
            data=helpers.vas_answers(),
            version=0,
            complete=True,
            by=coordinator,
        )
    chain.seal()  # as the beat does; the casebook then seals nothing new, as in `before`
    assert queries() == before


# --- In the browser (Playwright driving Debian's Chromium) --------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_monitor_asks_for_a_casebook_keeps_working_and_downloads_it(
    live_server, page, worker, settings, tmp_path
):
    import hashlib

    from monitoring.models import Document, ExportLog

    settings.MEDIA_ROOT = tmp_path / "media"
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    monitor = factories.UserFactory(username="monitor", role=roles.MONITOR, sites=[site])
    participant = factories.participant_with_visits(site=site, arm="B", by=coordinator)
    save_crf(
        crf_class=VasPain,
        visit=participant.visits.get(code="M0"),
        data=helpers.vas_answers(),
        version=0,
        complete=True,
        by=coordinator,
    )
    log_in(page, live_server.url, "monitor")
    page.goto(f"{live_server.url}/participants/{participant.pk}/")
    page.get_by_role("button", name="Casebook PDF").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Casebook of {participant}")
    expect(page.get_by_test_id("document-status")).to_be_visible()
    screenshot(page, "document-progress.png")

    # The monitor keeps working; the bar at the top says when the casebook is ready.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Participants × visits")
    tray = page.get_by_test_id("document-tray")
    expect(tray).to_contain_text("is ready: download", timeout=90_000)
    screenshot(page, "document-ready-tray.png", full_page=False)
    with page.expect_download() as info:
        tray.get_by_role("link", name=f"Casebook of {participant} is ready: download").click()
    download = info.value
    content = Path(download.path()).read_bytes()
    document = Document.objects.get()
    assert content.startswith(b"%PDF") and hashlib.sha256(content).hexdigest() == document.sha256
    assert download.suggested_filename == f"casebook-{participant}.pdf"
    assert ExportLog.objects.get().user == monitor

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Downloads").click()
    expect(page.get_by_test_id("documents")).to_contain_text("Ready")
    screenshot(page, "documents.png")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_data_manager_exports_every_form_and_the_analysis_files_from_the_downloads_page(
    live_server, page, worker, settings, tmp_path, study, data_manager
):
    settings.MEDIA_ROOT = tmp_path / "media"
    log_in(page, live_server.url, "datamanager")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Downloads").click()
    files = {}
    for button, kind in (
        ("CSV (one file per form", "csv"),
        ("CDISC ODM 1.3.2 XML", "odm"),
        ("Analysis file: one row per participant and visit", "analysis_visits"),
    ):
        page.get_by_role("button", name=button).click()
        link = page.get_by_test_id("document-status").get_by_role("link", name="Download")
        expect(link).to_be_visible(timeout=90_000)
        with page.expect_download() as info:
            link.click()
        files[kind] = Path(info.value.path()).read_bytes()
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Downloads").click()
    screenshot(page, "documents-exports.png")
    with zipfile.ZipFile(io.BytesIO(files["csv"])) as archive:
        names = set(archive.namelist())
        participants = _csv(archive, "analysis_participants.csv")
        # The analysis file asked for alone is the one in the archive.
        assert files["analysis_visits"] == archive.read("analysis_visits.csv")
    expected = {f"{f.name}.csv" for f in registry.forms()}
    assert names == expected | {
        "analysis_visits.csv",
        "analysis_participants.csv",
        "data_dictionary.csv",
    }
    assert {row["arm"] for row in participants} == {"A", "B"}
    odm_forms = set(etree.fromstring(files["odm"]).xpath("//odm:FormDef/@OID", namespaces=NS))
    assert odm_forms == {f.oid for f in registry.forms()}


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_rendering_leaves_the_document_to_another_which_renders_it_once(
    worker_processes, monitor, study
):
    """SIGKILL, as when the machine is lost: no clean-up runs and the task is not acknowledged.
    Redis gives it to the next worker; the advisory lock the dead worker held went with its
    connection, so that worker takes the document over."""
    first = worker_processes()
    document = documents.request_document(
        kind="casebook", data={"participant": study["A"].pk}, by=monitor
    )
    assert wait_for(lambda: Document.objects.get(pk=document.pk).status == "rendering", 120)
    helpers.kill_process_group(first)
    document.refresh_from_db()
    assert (document.status, document.attempts) == ("rendering", 1)  # killed mid-render

    time.sleep(helpers.TEST_VISIBILITY_TIMEOUT + 1)
    worker_processes()
    assert wait_for(lambda: Document.objects.get(pk=document.pk).status == "ready", 180)
    document.refresh_from_db()
    assert document.attempts == 2 and document.error == ""
    with document.file.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == document.sha256
    assert "Casebook" in pdf_text(Path(document.file.path))
    # The message published again (a relay that died before marking it sent): nothing more.
    OutboxMessage.objects.update(sent_at=None)
    outbox.relay()
    time.sleep(3)
    document.refresh_from_db()
    assert document.attempts == 2
    assert len(list(Path(document.file.path).parent.iterdir())) == 1


def test_a_second_delivery_while_the_first_renders_does_nothing(
    monitor, entered, owner_connection, django_capture_on_commit_callbacks
):
    """The first renderer holds the document's lock (here: another connection holds it)."""
    visit, *_ = entered
    with django_capture_on_commit_callbacks(execute=False):
        document = documents.request_document(
            kind="casebook", data={"participant": visit.participant_id}, by=monitor
        )
    with owner_connection.transaction():
        owner_connection.execute(
            "SELECT pg_advisory_lock(%s, %s)", [documents._RENDERING_LOCK, document.pk]
        )
        assert documents.render_document(document.pk).status == "queued"
        owner_connection.execute(
            "SELECT pg_advisory_unlock(%s, %s)", [documents._RENDERING_LOCK, document.pk]
        )
    assert documents.render_document(document.pk).status == "ready"
