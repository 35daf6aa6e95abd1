"""PDFs and exports made in the background: asked for on a page, rendered by a Celery worker,
kept in Django's storage with their SHA-256, downloaded when ready.

Each kind of document says who may ask for it, what it is called, which data it is made from
(a fingerprint of their audit trail, so that a file made before the data changed is known to
be stale), and how it is built. `request_document` queues a rendering after commit, unless the
same document is already being rendered or a ready one still matches the data;
`render_document` claims the queued request before rendering, so a task delivered twice
renders once. Every rendered export and every download is logged in ExportLog.
"""

import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404
from django.utils import timezone

from enrollment.models import Participant
from enrollment.selectors import visible_participant_or_404
from monitoring import analysis, casebook, exports, odm
from monitoring.models import Document, ExportLog, QueryMessage
from trialsite import protocol
from trialsite.audit import settled
from trialsite.audit.models import AuditEvent
from trialsite.audit.selectors import participant_events
from trialsite.crf import registry
from trialsite.outbox import services as outbox
from trialsite.pdf import render_pdf
from visits.models import Visit

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Built:
    path: Path
    filename: str
    pages: int | None = None


@dataclass(frozen=True)
class Kind:
    permission: str
    # The parameters from a request's POST data; raises Http404 for what the user cannot see.
    params: Callable[[QueryDict, object], dict]
    title: Callable[[dict], str]
    fingerprint: Callable[[dict, object], str]
    build: Callable[[dict, object, Progress, Path], Built]
    is_export: bool = False


def _state(events) -> str:
    """Fingerprint of a set of audit rows: any insert, change or delete changes it."""
    agg = events.aggregate(n=Count("id"), last=Max("id"))
    return f"{agg['n']}:{agg['last'] or 0}"


def _user_zone(user):
    return ZoneInfo(user.time_zone or settings.TIME_ZONE)


def blank_crf_forms(user) -> list:
    """The forms a user may print blank for the site binder: those filled in on a form."""
    return [f for f in registry.visible_forms(user) if f.form is not None]


def _pdf(template: str, context: dict, *, user, zone, path: Path, filename: str, progress) -> Built:
    def laid_out(pages: int) -> None:
        progress(1, 2, f"Writing {pages} pages")

    pdf = render_pdf(template, context, by=user, zone=zone, laid_out=laid_out)
    target = path / filename
    target.write_bytes(pdf.content)
    return Built(target, filename, pdf.pages)


# --- Blank annotated CRF -------------------------------------------------------------------------
def _blank_params(data, user) -> dict:
    name = data.get("form", "")
    if name not in {f.name for f in blank_crf_forms(user)}:
        raise Http404("There is no such form.")
    return {"form": name}


def _blank_build(params, user, progress, path) -> Built:
    zone = _user_zone(user)
    form = casebook.blank_crf(registry.get(params["form"]), user, zone)
    progress(0, 2, "Laying out the pages")
    return _pdf(
        "pdf/blank_crf.html",
        {
            "title": f"Blank CRF: {form.title}",
            "form": form,
            "protocol_version": protocol.PROTOCOL_VERSION,
        },
        user=user,
        zone=zone,
        path=path,
        filename=f"blank-crf-{params['form']}.pdf",
        progress=progress,
    )


# --- Completed CRFs of a visit and casebooks -----------------------------------------------------
def _participant_state(participant) -> str:
    messages = QueryMessage.objects.filter(query__participant=participant)
    return f"{_state(participant_events(participant))}/{_state(messages)}"


def _visit_params(data, user) -> dict:
    visit = Visit.objects.filter(pk=_int(data.get("visit"))).first()
    if visit is None:
        raise Http404("There is no such visit.")
    visible_participant_or_404(user, visit.participant_id)
    return {"visit": visit.pk}


def _visit_title(params) -> str:
    visit = Visit.objects.select_related("participant").get(pk=params["visit"])
    return f"CRFs of {visit.participant} visit {visit.code}"


def _visit_build(params, user, progress, path) -> Built:
    visit = Visit.objects.select_related("participant__site").get(pk=params["visit"])
    participant = visible_participant_or_404(user, visit.participant_id)
    progress(0, 2, f"Collecting visit {visit.code}")
    data = casebook.visit_data(visit, user)
    head = casebook.header(participant)
    return _pdf(
        "pdf/visit_crfs.html",
        {"title": f"CRFs, visit {visit.code}", "visit": data, **head},
        user=user,
        zone=head["zone"],
        path=path,
        filename=f"{participant.participant_id}-{visit.code}-{visit.sequence}-crfs.pdf",
        progress=progress,
    )


def _casebook_params(data, user) -> dict:
    participant = visible_participant_or_404(user, _int(data.get("participant")))
    return {"participant": participant.pk}


def _participant(params) -> Participant:
    if (read := params.get(_READ)) is not None:  # read with others (recent_documents)
        return read
    return Participant.objects.select_related("site", "screening").get(pk=params["participant"])


def _participant_of_visit(params) -> Participant:
    if (read := params.get(_READ)) is not None:
        return read
    return Visit.objects.select_related("participant").get(pk=params["visit"]).participant


_READ = "_participant_read"  # set on a copy of the params, never stored


def _with_participant_or_none(params: dict) -> dict | None:
    """_with_participant, or None when the participant or visit is no longer there."""
    try:
        return _with_participant(params)
    except (Participant.DoesNotExist, Visit.DoesNotExist):
        return None


def _with_participant(params: dict) -> dict:
    """A copy of the params with the participant they are of (by participant or by visit),
    read once for all that needs it."""
    if "participant" in params:
        return {**params, _READ: _participant(params)}
    if "visit" in params:
        return {**params, _READ: _participant_of_visit(params)}
    return params


def _casebook_build(params, user, progress, path) -> Built:
    participant = visible_participant_or_404(user, params["participant"])
    head = casebook.header(participant)
    steps = {"total": 1}

    def collecting(done, total, label):
        steps["total"] = total + 2
        progress(done, total + 2, label)

    with timezone.override(head["zone"]):  # the audit trail's times in the site's zone
        data = casebook.casebook(participant, user, progress=collecting)

    def laid_out(pages: int) -> None:
        progress(steps["total"] - 1, steps["total"], f"Writing {pages} pages")

    pdf = render_pdf(
        "pdf/casebook.html",
        {"title": "Casebook", **head, **data},
        by=user,
        zone=head["zone"],
        laid_out=laid_out,
    )
    filename = f"casebook-{participant.participant_id}.pdf"
    (path / filename).write_bytes(pdf.content)
    return Built(path / filename, filename, pdf.pages)


# --- AE listing ----------------------------------------------------------------------------------
def _listing_params(data, user) -> dict:
    skip = {"csrfmiddlewaretoken", "kind"}
    return {"filters": {key: data.getlist(key) for key in sorted(data) if key not in skip}}


def _listing_build(params, user, progress, path) -> Built:
    from urllib.parse import urlencode

    from safety.forms import ListingFilter
    from safety.selectors import listing, pdf_columns

    form = ListingFilter(QueryDict(urlencode(params["filters"], doseq=True)), user=user)
    filters = form.cleaned_data if form.is_valid() else {}
    progress(0, 2, "Collecting the adverse events")
    columns = pdf_columns(user)
    rows = [[value(ae) for _, value, _ in columns] for ae in listing(user, filters)]
    sites = ", ".join(sorted(site.code for site in user.sites.all()))
    return _pdf(
        "pdf/safety/ae_listing.html",
        {
            "title": "Adverse event listing",
            "site": sites,
            "participant_id": "all (see each row)",
            "orientation": "landscape",
            "columns": [
                (name, round(width * 100 / sum(w for *_, w in columns), 1))
                for name, _, width in columns
            ],
            "rows": rows,
            "filters_text": ", ".join(f"{k}: {v}" for k, v in sorted(filters.items()) if v)
            or "All adverse events at your sites",
        },
        user=user,
        zone=_user_zone(user),
        path=path,
        filename="ae-listing.pdf",
        progress=progress,
    )


# --- Data exports --------------------------------------------------------------------------------
def _no_params(data, user) -> dict:
    return {}


# Tables whose changes do not change what an export holds: the documents themselves.
NOT_STUDY_DATA = ("monitoring_document", "monitoring_exportlog")


def _study_state(params, user) -> str:
    """As _state() of the study's audit rows, counted mostly ahead of time (settled.py)."""
    rows, last = settled.rows_and_last(excluding=NOT_STUDY_DATA)
    return f"{rows}:{last}"


def _csv_build(params, user, progress, path) -> Built:
    filename = f"{protocol.REGISTRY_ID}-csv-{timezone.now():%Y%m%d-%H%M}.zip"
    exports.export_csv_zip(path / filename, user=user, progress=progress)
    return Built(path / filename, filename)


def _odm_build(params, user, progress, path) -> Built:
    filename = f"{protocol.REGISTRY_ID}-odm-{timezone.now():%Y%m%d-%H%M}.xml"
    odm.write_odm(path / filename, user=user, progress=progress)
    return Built(path / filename, filename)


def _analysis_params(data, user) -> dict:
    name = data.get("name", "")
    if name not in analysis.NAMES:
        raise Http404("There is no such analysis file.")
    return {"name": name}


def _analysis_build(params, user, progress, path) -> Built:
    progress(0, 1, f"Writing {params['name']}.csv")
    filename = f"{protocol.REGISTRY_ID}-{params['name']}-{timezone.now():%Y%m%d-%H%M}.csv"
    exports.export_analysis_csv(path / filename, params["name"], user=user)
    return Built(path / filename, filename)


def _consort_build(params, user, progress, path) -> Built:
    from monitoring import consort

    progress(0, 2, "Counting")
    found = consort.flow(user)
    return _pdf(
        "pdf/consort.html",
        {
            "title": "CONSORT flow diagram",
            "site": ", ".join(sorted(site.code for site in user.sites.all())),
            "participant_id": "all",
            "flow": found,
            "diagram": consort.layout(found),
        },
        user=user,
        zone=_user_zone(user),
        path=path,
        filename=f"{protocol.REGISTRY_ID}-consort.pdf",
        progress=progress,
    )


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("Not found.") from None


KINDS: dict[str, Kind] = {
    Document.Kind.BLANK_CRF: Kind(
        permission="enrollment.view_participant",
        params=_blank_params,
        title=lambda p: f"Blank CRF: {registry.get(p['form']).title}",
        fingerprint=lambda p, user: f"protocol {protocol.PROTOCOL_VERSION}",
        build=_blank_build,
    ),
    Document.Kind.VISIT_CRFS: Kind(
        permission="accounts.export_data",
        params=_visit_params,
        title=_visit_title,
        fingerprint=lambda p, user: _participant_state(_participant_of_visit(p)),
        build=_visit_build,
    ),
    Document.Kind.CASEBOOK: Kind(
        permission="accounts.export_data",
        params=_casebook_params,
        title=lambda p: f"Casebook of {_participant(p)}",
        fingerprint=lambda p, user: _participant_state(_participant(p)),
        build=_casebook_build,
    ),
    Document.Kind.AE_LISTING: Kind(
        permission="safety.view_adverseevent",
        params=_listing_params,
        title=lambda p: "Adverse event listing",
        fingerprint=lambda p, user: _state(
            AuditEvent.objects.filter(table_name="safety_adverseevent")
        ),
        build=_listing_build,
    ),
    Document.Kind.CSV_EXPORT: Kind(
        permission="accounts.export_data",
        params=_no_params,
        title=lambda p: "CSV export (every form, analysis files, data dictionary)",
        fingerprint=_study_state,
        build=_csv_build,
        is_export=True,
    ),
    Document.Kind.ODM_EXPORT: Kind(
        permission="accounts.export_data",
        params=_no_params,
        title=lambda p: "CDISC ODM 1.3.2 export",
        fingerprint=_study_state,
        build=_odm_build,
        is_export=True,
    ),
    Document.Kind.ANALYSIS: Kind(
        permission="accounts.export_data",
        params=_analysis_params,
        title=lambda p: analysis.TITLES[p["name"]],
        fingerprint=_study_state,
        build=_analysis_build,
        is_export=True,
    ),
    Document.Kind.CONSORT: Kind(
        permission="enrollment.view_participant",
        params=_no_params,
        title=lambda p: "CONSORT flow diagram",
        fingerprint=_study_state,
        build=_consort_build,
    ),
}


# --- Services ------------------------------------------------------------------------------------
def _key(kind: str, params: dict, user) -> str:
    return hashlib.sha256(json.dumps([kind, params, user.pk], sort_keys=True).encode()).hexdigest()


def _lock_key(key: str) -> None:
    """Serialize requests for one document (a transaction-level advisory lock)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(key[:15], 16)])


def _give_up_stalled(documents) -> None:
    """A rendering that has run for longer than the time limit has died with its worker."""
    limit = timezone.now() - timedelta(seconds=settings.DOCUMENT_RENDER_TIME_LIMIT)
    documents.filter(
        Q(status=Document.Status.RENDERING, started_at__lt=limit)
        | Q(status=Document.Status.QUEUED, requested_at__lt=limit)
    ).update(
        status=Document.Status.FAILED,
        error="The rendering stopped without finishing.",
        finished_at=timezone.now(),
    )


def kind_of(kind: str) -> Kind:
    if kind not in KINDS:
        raise Http404("There is no such document.")
    return KINDS[kind]


def request_document(*, kind: str, data: QueryDict | dict, by) -> Document:
    """Queue the document asked for (or return the one already rendering, or a ready one that
    still matches the data)."""
    spec = kind_of(kind)
    if not by.has_perm(spec.permission):
        raise PermissionDenied("Your role cannot make this document.")
    if isinstance(data, dict):
        query = QueryDict(mutable=True)
        for name, value in data.items():
            query.setlist(name, value if isinstance(value, list) else [value])
        data = query
    return _queue(kind, spec.params(data, by), by)


def _queue(kind: str, params: dict, by, *, version=None, read=None) -> Document:
    """`version` and `read` (_with_participant): the data's fingerprint and the params with
    their participant, when the caller has just read them."""
    spec = KINDS[kind]
    key = _key(kind, params, by)
    read = read or _with_participant(params)  # for the fingerprint and the title, read once
    version = version or spec.fingerprint(read, by)

    with transaction.atomic():
        _lock_key(key)
        same = Document.objects.filter(key=key)
        _give_up_stalled(same)
        existing = same.filter(
            Q(status__in=Document.IN_FLIGHT) | Q(status=Document.Status.READY, data_version=version)
        ).first()
        if existing is not None:
            return existing
        document = Document.objects.create(
            kind=kind, params=params, key=key, title=spec.title(read), requested_by=by
        )
        outbox.enqueue("monitoring.tasks.render_document_task", document.pk)
    return document


def retry_document(*, document: Document, by) -> Document:
    """Ask again for a document whose rendering failed."""
    if document.status != Document.Status.FAILED:
        return document
    return regenerate_document(document=document, by=by)


class _Reporter:
    """Writes progress to the document's row, at most a few times a second."""

    def __init__(self, document: Document):
        self.pk = document.pk
        self.last = 0.0

    def __call__(self, done: int, total: int, label: str) -> None:
        now = time.monotonic()
        if now - self.last < 0.3 and done < total:
            return
        self.last = now
        Document.objects.filter(pk=self.pk).update(
            progress_done=done, progress_total=total, progress_label=label[:200]
        )


# The first key of the session-level advisory lock held while a document renders ("dr").
_RENDERING_LOCK = 0x6472


def render_document(document_id: int) -> Document:
    """Render a queued document and store it, once.

    While it renders, the process holds a session-level advisory lock on the document, which
    PostgreSQL drops when the process's connection ends, however the process ended. So a second
    delivery of the task does nothing while the first runs, and takes the document over if the
    first worker died (killed, machine lost) and the broker gave the task to another.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_RENDERING_LOCK, document_id])
        (held,) = cursor.fetchone()
    if not held:  # rendering in a live process
        return Document.objects.select_related("requested_by").get(pk=document_id)
    try:
        return _render(document_id)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_RENDERING_LOCK, document_id])


def _render(document_id: int) -> Document:
    # RENDERING here means its renderer died: it would still hold the lock otherwise.
    claimed = Document.objects.filter(pk=document_id, status__in=Document.IN_FLIGHT).update(
        status=Document.Status.RENDERING,
        started_at=timezone.now(),
        attempts=F("attempts") + 1,
        progress_label="Starting",
    )
    document = Document.objects.select_related("requested_by").get(pk=document_id)
    if not claimed:
        return document
    spec = KINDS[document.kind]
    user = document.requested_by
    # Taken before the data are read: a change made meanwhile makes the file stale, not wrong.
    version = spec.fingerprint(document.params, user)
    try:
        with tempfile.TemporaryDirectory() as folder:
            built = spec.build(document.params, user, _Reporter(document), Path(folder))
            digest = hashlib.sha256()
            with built.path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
                handle.seek(0)
                document.file.save(built.filename, File(handle), save=False)
            size = built.path.stat().st_size
    except Exception as error:  # a failed render says so and can be retried
        logger.exception("Rendering document %s failed", document_id)
        Document.objects.filter(pk=document_id).update(
            status=Document.Status.FAILED,
            error=f"{type(error).__name__}: {error}"[:2000],
            finished_at=timezone.now(),
        )
        document.refresh_from_db()
        return document
    document.filename = built.filename
    document.pages = built.pages
    document.size = size
    document.sha256 = digest.hexdigest()
    document.data_version = version
    document.status = Document.Status.READY
    document.error = ""
    document.progress_done = document.progress_total = max(document.progress_total, 1)
    document.progress_label = "Ready"
    document.finished_at = timezone.now()
    document.save()
    if spec.is_export:
        ExportLog.objects.create(
            user=user,
            by_name=user.username,
            what=f"{document.title}: {built.filename}",
            document=document,
        )
    return document


def _current_version(document: Document, params: dict | None = None) -> str | None:
    try:
        return KINDS[document.kind].fingerprint(params or document.params, document.requested_by)
    except (Participant.DoesNotExist, Visit.DoesNotExist):
        return None


def is_stale(document: Document) -> bool:
    """Whether the data changed after the document was made."""
    if document.status != Document.Status.READY:
        return False
    document.read_params = _with_participant_or_none(document.params)  # for regenerate_document
    document.current_version = _current_version(document, document.read_params)
    return document.current_version != document.data_version


def recent_documents(user, limit: int = 30) -> list[tuple[Document, bool]]:
    """The user's latest documents, each with whether it is stale (one fingerprint per key)."""
    return with_staleness(
        list(Document.objects.filter(requested_by=user).select_related("requested_by")[:limit])
    )


def with_staleness(recent: list[Document]) -> list[tuple[Document, bool]]:
    """Each document with whether it is stale, the data's fingerprint read once per key."""
    ready = [d for d in recent if d.status == Document.Status.READY]
    # The participants they are of, read at once (not one query per document).
    participants = Participant.objects.in_bulk(
        [d.params["participant"] for d in ready if "participant" in d.params]
    )
    visits = Visit.objects.select_related("participant").in_bulk(
        [d.params["visit"] for d in ready if "visit" in d.params]
    )
    versions: dict[str, str | None] = {}
    for document in ready:
        if document.key in versions:
            continue
        params = document.params
        if (found := participants.get(params.get("participant"))) is not None:
            params = {**params, _READ: found}
        elif (visit := visits.get(params.get("visit"))) is not None:
            params = {**params, _READ: visit.participant}
        versions[document.key] = _current_version(document, params)
    return [
        (d, d.status == Document.Status.READY and versions[d.key] != d.data_version) for d in recent
    ]


def regenerate_document(*, document: Document, by) -> Document:
    """The same document made again from the current data."""
    if not by.has_perm(KINDS[document.kind].permission):
        raise PermissionDenied("Your role cannot make this document.")
    known = getattr(document, "current_version", None) if by == document.requested_by else None
    read = getattr(document, "read_params", None)
    return _queue(document.kind, document.params, by, version=known, read=read)


TRAY_MINUTES = 30


def tray(user) -> dict:
    """Documents in progress, and ready ones finished lately that were not downloaded yet."""
    since = timezone.now() - timedelta(minutes=TRAY_MINUTES)
    mine = Document.objects.filter(requested_by=user)
    _give_up_stalled(mine.filter(status__in=Document.IN_FLIGHT))
    return {
        "working": list(mine.filter(status__in=Document.IN_FLIGHT)[:5]),
        "ready": list(
            mine.filter(status=Document.Status.READY, finished_at__gte=since)
            .exclude(log__user=user)
            .distinct()[:5]
        ),
        "failed": list(mine.filter(status=Document.Status.FAILED, finished_at__gte=since)[:3]),
    }


def own_document_or_404(user, pk) -> Document:
    document = get_object_or_404(Document, pk=pk, requested_by=user)
    _give_up_stalled(Document.objects.filter(pk=document.pk))
    document.refresh_from_db()
    return document


def log_download(*, document: Document, by) -> None:
    ExportLog.objects.create(
        user=by,
        by_name=by.username,
        what=f"Downloaded {document.title}: {document.filename} (SHA-256 {document.sha256[:16]}…)",
        document=document,
    )
