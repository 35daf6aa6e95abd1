"""The API's forms (trialsite/api.py): every registered form the token user may see, with its
items named as in the data dictionary of the CSV export (monitoring/exports.py), and its
records at the user's sites. What reveals the arm is left out for a user who may not see arms,
as in the pages and exports: whole forms, and items of the others."""

import base64
from datetime import datetime
from typing import Literal

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.utils import timezone
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from enrollment.models import Participant
from monitoring import analysis, documents, entry, exports
from monitoring import queries as query_rules
from monitoring.models import DataQuery, Document
from trialsite.api import (
    PAGE_LIMIT,
    Code,
    Problem,
    TokenAuth,
    answers,
    in_zone,
    links,
    page_of,
)
from trialsite.audit.selectors import changed_since
from trialsite.crf import registry
from trialsite.crf.registry import Kind
from trialsite.crf.services import CrfConflict
from trialsite.crf.views import add_service_errors
from visits.models import Visit

router = Router(tags=["forms"])


class ItemOut(Schema):
    name: str
    label: str
    type: str
    codes: dict[str, str]


class FormOut(Schema):
    name: str
    title: str
    kind: str
    items: list[ItemOut]


class RecordPage(Schema):
    items: list[dict]
    next_cursor: str | None


def _form_named(form: str, user):
    """The registered form called `form` (its name or its slug) if the user may see it."""
    try:
        definition = registry.get(form.replace("-", "_"))
    except LookupError:
        return None
    return definition if definition.visible_to(user) else None


def _items(definition, user) -> list:
    return exports.key_items(definition) + definition.items(user)


@router.get("", response=answers(list[FormOut]), summary="The forms you may see, with their items")
def forms(request):
    found = registry.visible_forms(request.user)
    request.api_records = len(found)
    return [
        {
            "name": d.name,
            "title": d.title,
            "kind": str(d.kind),
            "items": [
                {"name": i.name, "label": i.label, "type": i.datatype, "codes": dict(i.codes)}
                for i in _items(d, request.user)
            ],
        }
        for d in found
    ]


@router.get(
    "/{form}/records", response=answers(RecordPage), summary="A form's records at your sites"
)
def records(
    request,
    form: Code,
    site: Code | None = None,
    participant: Code | None = None,
    visit: Code | None = None,
    modified_since: datetime | None = None,
    cursor: Code | None = None,
    limit: int = PAGE_LIMIT,
):
    user = request.user
    definition = _form_named(form, user)
    if definition is None:
        raise HttpError(404, f"No form named {form} that you may see.")
    rows = definition.records_visible_to(user)
    if site:
        rows = rows.filter(**{f"{definition.site_path}__code": site})
    if participant:
        path = definition.participant_path
        key = "participant_id" if path == "pk" else f"{path}__participant_id"
        rows = rows.filter(**{key: participant})
    if visit:
        if definition.kind != Kind.PER_VISIT:
            raise HttpError(400, f"{definition.title} is not collected at visits.")
        path = definition.visit_path
        rows = rows.filter(**{"code" if path == "pk" else f"{path}__code": visit})
    if modified_since is not None:
        if not hasattr(definition.model, "modified_at"):
            raise HttpError(400, f"{definition.title} records carry no time of change.")
        rows = rows.filter(modified_at__gte=in_zone(modified_since))
    found, following = page_of(request, rows, cursor, limit)
    items = _items(definition, user)
    return {
        "items": [{i.name: exports.cell(i.value(record)) for i in items} for record in found],
        "next_cursor": following,
    }


analysis_router = Router(tags=["analysis files"])


class AnalysisPage(Schema):
    items: list[dict]
    next_cursor: str | None


@analysis_router.get(
    "/{name}",
    response=answers(AnalysisPage),
    summary="An analysis file, for your sites' participants",
)
def analysis_file(
    request, name: Code, site: Code | None = None, cursor: Code | None = None, limit: int = 100
):
    """The rows of `analysis_visits` (one per participant and visit) or `analysis_participants`
    (one per participant), as the export's analysis files; a page holds the rows of `limit`
    participants. The arm is a column only for users who may see it."""
    user = request.user
    if not user.has_perm("accounts.export_data"):
        raise HttpError(403, "Your role may not export data.")
    files = {file_name: (items, make_rows) for file_name, _, items, make_rows in analysis.FILES}
    if name not in files:
        raise HttpError(404, f"No analysis file named {name}; there are {', '.join(files)}.")
    items, make_rows = files[name]
    items = [i for i in items if user.sees_arm or not i.reveals_arm]
    chosen = analysis.participants(sorted(user.site_ids))
    if site:
        chosen = chosen.filter(site__code=site)
    page, following = page_of(request, chosen, cursor, limit)
    rows = [
        {i.name: exports.cell(i.value(row)) for i in items}
        for row in make_rows(analysis.participants().filter(pk__in=[p.pk for p in page]))
    ]
    request.api_records = len(rows)
    return {"items": rows, "next_cursor": following}


queries_router = Router(tags=["queries"])


class QueryOut(Schema):
    id: int
    participant_id: str
    site: str
    form: str  # the form's name, as in /forms
    visit: str  # the visit's code; "" for a record of no visit
    record_id: str
    item: str  # the item's name, as in the data dictionary
    item_label: str
    state: str
    automatic: bool
    question: str
    opened_at: datetime


class QueryPage(Schema):
    items: list[QueryOut]
    next_cursor: str | None


@queries_router.get("", response=answers(QueryPage), summary="Data queries at your sites")
def data_queries(
    request,
    state: DataQuery.State | None = None,
    site: Code | None = None,
    participant: Code | None = None,
    form: Code | None = None,
    modified_since: datetime | None = None,
    cursor: Code | None = None,
    limit: int = PAGE_LIMIT,
):
    """The queries the user may see, as on the query list: none on an item that reveals the arm
    to a user who may not see it. `modified_since`: the queries opened, answered, closed or
    reopened at that time or later (a time without a zone is the site's)."""
    rows = query_rules.visible_queries(request.user).select_related("participant__site")
    if state:
        rows = rows.filter(state=state)
    if site:
        rows = rows.filter(participant__site__code=site)
    if participant:
        rows = rows.filter(participant__participant_id=participant)
    if form:
        definition = _form_named(form, request.user)
        rows = rows.filter(table_name=definition.table) if definition else rows.none()
    if modified_since is not None:
        rows = rows.filter(changed_since(DataQuery, in_zone(modified_since)))
    found, following = page_of(request, rows, cursor, limit)
    lines = {row.query.pk: row for row in query_rules.query_rows(found, timezone.now())}
    return {
        "items": [
            {
                "id": q.pk,
                "participant_id": q.participant.participant_id,
                "site": q.participant.site.code,
                "form": getattr(registry.for_table(q.table_name), "name", q.table_name),
                "visit": lines[q.pk].visit,
                "record_id": q.row_pk,
                "item": q.field,
                "item_label": q.field_label,
                "state": q.state,
                "automatic": q.automatic,
                "question": lines[q.pk].question,
                "opened_at": q.opened_at,
            }
            for q in found
        ],
        "next_cursor": following,
    }


class RecordIn(Schema):
    """A form's record as the form page takes it: each item by its name in the data dictionary,
    in the form the page's field accepts (dates 2026-01-31, times 2026-01-31T14:05, codes,
    numbers); `version` the version read (0 for a new record). Which record: for a form of a
    visit, the `visit` (and `visit_sequence` for a repeated one); for a log (adverse events,
    medications, deviations), the entry's `number`, or none for a new entry; for a form of the
    participant's own (end of study), neither."""

    participant_id: Code
    visit: Code | None = None
    visit_sequence: int = Field(1, ge=1, le=99)
    number: int | None = Field(None, ge=1, le=100_000)
    version: int = Field(0, ge=0, le=1_000_000)
    complete: bool = False
    confirm_unusual: bool = False
    reason_for_change: str = Field("", max_length=500)
    data: dict[str, str | int | float | bool | list[str] | None]


class Refused(Schema):
    """A record not saved: why, and each item's errors in the words of the form page."""

    detail: str
    errors: dict[str, list[str]] = {}


def _posted(value) -> str | list:
    """A JSON value as the form page would post it."""
    if value is None or value is False:
        return ""
    if value is True:
        return "on"
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


def _record_out(definition, record, user, request) -> dict:
    request.api_records = 1
    return {i.name: exports.cell(i.value(record)) for i in _items(definition, user)}


@router.post(
    "/{form}/records",
    response={**answers(dict), 400: Refused, 409: Refused},
    summary="Save a form's record: at a visit, the participant's own, or a log entry",
    openapi_extra=links(
        200,
        ReadBack=(
            "monitoring_api_records",
            {"form": "$request.path.form", "participant": "$response.body#/participant_id"},
        ),
    ),
)
def save_record(request, form: Code, body: RecordIn):
    """With a read-write token, through the same form and service as the form page: the page's
    validation and words, the optimistic version (409 when someone saved since), a reason for
    changing a complete record, locks, the audit trail with the token's user, and what the
    service does after (an adverse event's notifications, a deviation's review)."""
    user = request.user
    definition = _form_named(form, user)
    if definition is None or not definition.entered_here:
        raise HttpError(404, f"No form named {form} entered here that you may see.")
    participant = (
        Participant.objects.visible_to(user)
        .select_related("site", "screening__consent")
        .filter(participant_id=body.participant_id)
        .first()
    )
    if participant is None:
        raise HttpError(404, "No such participant of your sites.")
    visit = None
    if body.visit is not None:
        visit = Visit.objects.filter(
            participant=participant, code=body.visit, sequence=body.visit_sequence
        ).first()
        if visit is None:
            raise HttpError(404, f"No visit {body.visit} of {participant.participant_id}.")
        visit.participant = participant
    number = body.number
    if definition.kind == Kind.LOG and number is None:
        number = entry.NEW
    record = entry.record_entered(definition, participant, visit, number)
    if not user.has_perm(definition.permission("change" if record else "add")):
        raise HttpError(403, f"Your role may not save {definition.title}.")
    posted = {name: _posted(value) for name, value in body.data.items()}
    posted.update(
        version=str(body.version),
        mark_complete=_posted(body.complete),
        confirm_unusual=_posted(body.confirm_unusual),
        reason_for_change=body.reason_for_change,
    )
    entered = definition.form(
        posted, participant=participant, visit=visit, user=user, instance=record
    )
    if entered.is_valid():
        if record is not None and not entered.changes_data():  # as the page: nothing to save
            return Status(200, _record_out(definition, record, user, request))
        try:
            saved = entry.save_entered(definition, entered, participant, visit, record, user)
        except CrfConflict as conflict:
            stored = conflict.current.version
            detail = f"Saved by someone else since version {body.version}: version {stored} is "
            return Status(409, {"detail": detail + "stored. Read it again."})
        except ValidationError as error:
            add_service_errors(entered, error)
        else:
            return Status(200, _record_out(definition, saved, user, request))
    errors = {name: [str(m) for m in found] for name, found in entered.errors.items()}
    return Status(400, {"detail": "Not saved: see each item's errors.", "errors": errors})


exports_router = Router(tags=["exports"])

# What may be exported, by the name a program asks for: the document kind and its parameters.
EXPORTS = {
    "csv": (Document.Kind.CSV_EXPORT, {}),
    "odm": (Document.Kind.ODM_EXPORT, {}),
    **{name: (Document.Kind.ANALYSIS, {"name": name}) for name in analysis.NAMES},
}
MEDIA_TYPES = {
    Document.Kind.CSV_EXPORT: "application/zip",
    Document.Kind.ODM_EXPORT: "application/xml",
    Document.Kind.ANALYSIS: "text/csv",
}
ExportName = Literal[tuple(EXPORTS)]


class ExportIn(Schema):
    """`csv`: a ZIP of one CSV file per form, the analysis files and the data dictionary;
    `odm`: CDISC ODM 1.3.2 XML; `analysis_visits`, `analysis_participants`: one analysis file
    as CSV."""

    file: ExportName


class ExportOut(Schema):
    id: int
    file: str  # what was asked for, as in ExportIn
    title: str
    status: Document.Status
    progress_done: int
    progress_total: int
    progress_label: str
    requested_at: datetime
    finished_at: datetime | None
    filename: str  # "" until ready
    size: int | None  # bytes
    sha256: str  # of the file, hexadecimal; "" until ready
    error: str
    stale: bool  # the data changed after the file was made
    download: str | None  # the file's path when ready


class ExportPage(Schema):
    items: list[ExportOut]
    next_cursor: str | None


def _export_out(document: Document, stale: bool) -> dict:
    asked = next(n for n, (k, p) in EXPORTS.items() if (k, p) == (document.kind, document.params))
    ready = document.status == Document.Status.READY
    return {
        "id": document.pk,
        "file": asked,
        "title": document.title,
        "status": document.status,
        "progress_done": document.progress_done,
        "progress_total": document.progress_total,
        "progress_label": document.progress_label,
        "requested_at": document.requested_at,
        "finished_at": document.finished_at,
        "filename": document.filename,
        "size": document.size,
        "sha256": document.sha256,
        "error": document.error,
        "stale": stale,
        "download": f"/api/v1/exports/{document.pk}/file" if ready else None,
    }


def _own_export(user, export_id: int) -> Document:
    """The user's export `export_id` (not another's, nor a PDF)."""
    try:
        document = documents.own_document_or_404(user, export_id)
    except Http404:
        document = None
    if document is None or document.kind not in MEDIA_TYPES:
        raise HttpError(404, "No export of yours with this number.")
    return document


@exports_router.post(
    "",
    response={**answers(ExportOut), 202: ExportOut},
    auth=TokenAuth(changes_data=False),
    summary="Start an export (made in the background; a read-only token may)",
    openapi_extra=links(
        202,
        Progress=("monitoring_api_export_status", {"export_id": "$response.body#/id"}),
        File=("monitoring_api_export_file", {"export_id": "$response.body#/id"}),
    ),
)
def start_export(request, body: ExportIn):
    """The export is made by a worker, of your sites and with what you may see, as the export
    page makes it; poll `GET /exports/{id}` for its progress. Asking again while it is being made,
    or while a ready one still matches the data, gives that one."""
    kind, params = EXPORTS[body.file]
    document = documents.request_document(kind=kind, data=params, by=request.user)
    request.api_records = 1
    return Status(202, _export_out(document, documents.is_stale(document)))


@exports_router.get("", response=answers(ExportPage), summary="Your exports, latest first")
def my_exports(request, cursor: Code | None = None, limit: int = PAGE_LIMIT):
    rows = Document.objects.filter(requested_by=request.user, kind__in=MEDIA_TYPES)
    found, following = page_of(
        request, rows.select_related("requested_by"), cursor, limit, latest_first=True
    )
    found = documents.with_staleness(found)
    return {"items": [_export_out(d, stale) for d, stale in found], "next_cursor": following}


@exports_router.get(
    "/{export_id}", response=answers(ExportOut), summary="An export's progress and checksum"
)
def export_status(request, export_id: int):
    request.api_records = 1
    document = _own_export(request.user, export_id)
    return _export_out(document, documents.is_stale(document))


@exports_router.get(
    "/{export_id}/file",
    response={**answers(None), 409: Problem},
    summary="An export's file, when ready",
    openapi_extra={
        "responses": {
            200: {
                "description": "The file; its SHA-256 in the Content-Digest header (RFC 9530).",
                "content": {
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media in sorted(set(MEDIA_TYPES.values()))
                },
            }
        }
    },
)
def export_file(request, export_id: int):
    """The file as made, logged as a download. If the data changed since, `stale` in its status
    says so; start the export again for an up-to-date file."""
    document = _own_export(request.user, export_id)
    if document.status != Document.Status.READY:
        raise HttpError(409, f"Not ready: {document.get_status_display().lower()}.")
    documents.log_download(document=document, by=request.user)
    request.api_records = 1
    digest = base64.b64encode(bytes.fromhex(document.sha256)).decode()
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=document.filename,
        content_type=MEDIA_TYPES[document.kind],
    )
    response["Content-Digest"] = f"sha-256=:{digest}:"
    return response
