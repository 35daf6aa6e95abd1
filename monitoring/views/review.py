"""Review of the data: the participants × visits dashboard, locks, source data verification,
queries, investigator signatures and the audit trail. Records are named by their registered
form and primary key; what reveals the arm never reaches a user who may not see it."""

import copy

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from enrollment.models import Participant
from enrollment.selectors import visible_participant_or_404
from monitoring import dashboard as dashboard_grid
from monitoring import overview, quality, queries, signatures, verification
from monitoring.models import DataQuery
from trialsite.access import requires
from trialsite.accounts import reauth
from trialsite.accounts.models import User
from trialsite.audit import selectors as audit_selectors
from trialsite.crf import locking, registry
from trialsite.crf.models import Lock
from trialsite.crf.views import add_service_errors
from trialsite.csv_cells import csv_response
from trialsite.paging import keyset_page
from visits import services as visit_services
from visits.models import Visit


def record_or_404(user, form: str, pk):
    """(form, record): a record of a registered form, of a participant at the user's sites,
    that the user may see; else 404."""
    try:
        definition = registry.by_slug(form)
    except LookupError:
        raise Http404("There is no such form.") from None
    if not definition.visible_to(user):
        raise Http404("There is no such form.")
    record = get_object_or_404(definition.records_visible_to(user), pk=_int(pk))
    if definition.participant_of(record) is None:
        raise Http404("This record belongs to no participant yet.")
    return definition, record


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("Not found.") from None


# Participants a dashboard page shows; filtered by status, it reads at most this many pages
# of participants before showing what it found (and a link to read on).
DASHBOARD_PAGE = 25
DASHBOARD_READ_AT_MOST = 8
QUALITY_LINES = 50  # findings the data-quality page shows of each check (the CSV has them all)


def _at(request, query: str):
    """The request as if its query string were `query`."""
    moved = copy.copy(request)
    moved.GET = QueryDict(query)
    return moved


def _back(request, fallback: str):
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect(fallback)


class DashboardFilter(forms.Form):
    q = forms.CharField(required=False, max_length=20, label="Participant ID")
    site = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False)
    visit = forms.ChoiceField(required=False)
    form = forms.ChoiceField(required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [("", "All your sites")] + [
            (str(site.pk), site.code) for site in user.sites.all()
        ]
        self.fields["status"].choices = [("", "Any status")] + [
            (key, label) for key, (_, label) in dashboard_grid.LEGEND.items()
        ]
        self.fields["visit"].choices = [("", "Every visit")] + [
            (code, code) for code in dashboard_grid.SCHEDULE
        ]
        self.fields["form"].choices = [("", "Every form")] + [
            (f.name, f.title)
            for f in registry.visible_forms(user, registry.Kind.PER_VISIT)
            if not f.visit_record
        ]


@requires("enrollment.view_participant")
def dashboard(request):
    """One compact row per participant: the status of their enrolment, of each visit (or of
    one form at each visit) and their log entries; filtered by site, participant ID, status,
    visit and form, 25 participants a page."""
    user = request.user
    form = DashboardFilter(request.GET or None, user=user)
    chosen = form.cleaned_data if form.is_valid() else {}
    participants = Participant.objects.visible_to(user).select_related(
        "site", *overview.participant_related(user)
    )
    if chosen.get("site"):
        participants = participants.filter(site_id=int(chosen["site"]))
    if chosen.get("q"):
        participants = participants.filter(participant_id__icontains=chosen["q"].strip())
    codes = [chosen["visit"]] if chosen.get("visit") else []

    def rows_of(chunk):
        return dashboard_grid.grid(
            list(chunk), user, form=chosen.get("form", ""), today_of=visit_services.site_today
        )

    if chosen.get("status"):
        # The status is known once the grid is read: read the grid a page of participants at
        # a time until a page of rows shows it (or the participants run out).
        rows, page, read = [], None, 0
        while len(rows) < DASHBOARD_PAGE and read < DASHBOARD_READ_AT_MOST:
            if page is not None:
                if not page.next_query:
                    break
                request = _at(request, page.next_query)
            page = keyset_page(request, participants, ("participant_id",), size=DASHBOARD_PAGE)
            rows += [r for r in rows_of(page.rows) if r.shows(chosen["status"], codes)]
            read += 1
    else:
        page = keyset_page(request, participants, ("participant_id",), size=DASHBOARD_PAGE)
        rows = rows_of(page.rows)
    shown = codes or dashboard_grid.SCHEDULE
    return render(
        request,
        "monitoring/dashboard.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "table": [(row, row.visits_at(shown)) for row in rows],
            "codes": shown,
            "log_titles": [f.titles for f in registry.visible_forms(user, registry.Kind.LOG)],
            "end_titles": [
                f.title
                for f in registry.visible_forms(user, registry.Kind.PER_PARTICIPANT)
                if f.at_end
            ],
            "legend": dashboard_grid.LEGEND,
        },
    )


# --- Locks ---------------------------------------------------------------------------------------
class UnlockForm(forms.Form):
    reason = forms.CharField(
        label="Reason for unlocking", max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


def _visible_locks(user):
    """Study locks, and locks on participants of the user's sites (none on records the user
    may not see)."""
    locks = Lock.objects.filter(participant__isnull=True) | Lock.objects.filter(
        participant__site_id__in=user.site_ids
    )
    return locks.exclude(registry.hidden_pointers(user))


@requires("crf.view_lock")
def lock_list(request):
    locks = _visible_locks(request.user).select_related("participant", "locked_by", "unlocked_by")
    return render(request, "monitoring/lock_list.html", {"locks": locks, "form": UnlockForm()})


@requires("accounts.lock_data")
@require_POST
def lock_new(request):
    """Lock what the posted scope names (the study, a participant, a visit or a record), for
    the posted reason."""
    scope = request.POST.get("scope")
    user_sites = request.user.site_ids
    target = {}
    if scope == Lock.Scope.PARTICIPANT:
        target["participant"] = get_object_or_404(
            Participant, pk=_int(request.POST.get("participant")), site_id__in=user_sites
        )
    elif scope == Lock.Scope.VISIT:
        target["visit"] = get_object_or_404(
            Visit, pk=_int(request.POST.get("visit")), participant__site_id__in=user_sites
        )
    elif scope == Lock.Scope.RECORD:
        definition, record = record_or_404(
            request.user, request.POST.get("form", ""), request.POST.get("pk")
        )
        target["record"] = record
        target["participant"] = definition.participant_of(record)
    elif scope != Lock.Scope.STUDY:
        raise Http404
    try:
        lock = locking.lock(
            scope=scope, reason=request.POST.get("reason", ""), by=request.user, **target
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Locked: {lock.description}.")
    return _back(request, "lock_list")


@requires("accounts.lock_data", objects={"pk": "crf.Lock"})
def lock_lift(request, pk: int):
    lock = get_object_or_404(_visible_locks(request.user), pk=pk)
    form = UnlockForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            locking.unlock(lock=lock, reason=form.cleaned_data["reason"], by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Unlocked: {lock.description}.")
            return redirect("lock_list")
    return render(
        request,
        "monitoring/lock_lift.html",
        {"lock": lock, "form": form},
        status=400 if form.errors else 200,
    )


# --- Source data verification --------------------------------------------------------------------
@requires("accounts.verify_source_data", objects={"form": "form", "pk": "record"})
@require_POST
def verify_record(request, form: str, pk: int):
    """Mark a record source-verified at its current version."""
    definition, record = record_or_404(request.user, form, pk)
    verification.verify_record(definition=definition, record=record, by=request.user)
    messages.success(
        request, f"{definition.title} {record} marked source-verified (version {record.version})."
    )
    return _back(request, "reverify_list")


@requires("accounts.verify_source_data")
def reverify_list(request):
    """Records changed since a monitor verified them, form by form, each form's a page at a
    time (the page's parameter is the form's name)."""
    pages = [
        (
            definition,
            keyset_page(
                request,
                verification.to_reverify(definition, request.user),
                ("pk",),
                param=definition.name,
            ),
        )
        for definition in verification.verifiable_forms(request.user)
    ]
    return render(
        request,
        "monitoring/reverify_list.html",
        {
            "rows": [row for d, page in pages for row in verification.as_rows(d, page.rows)],
            "pages": [(d, page) for d, page in pages if page.has_other_pages],
        },
    )


# --- Queries -------------------------------------------------------------------------------------
@requires("accounts.raise_query")
@require_POST
def query_new(request):
    definition, record = record_or_404(
        request.user, request.POST.get("form", ""), request.POST.get("pk")
    )
    field = request.POST.get("field", "")
    if field in definition.hidden_items(request.user):
        raise Http404("There is no such field.")
    try:
        queries.raise_query(
            crf=record, field=field, question=request.POST.get("question", ""), by=request.user
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Query raised.")
    return _back(request, "query_list")


@requires(objects={"pk": "monitoring.DataQuery"})
@require_POST
def query_action(request, pk: int):
    query = get_object_or_404(queries.visible_queries(request.user), pk=pk)
    action = {
        "answer": queries.answer_query,
        "close": queries.close_query,
        "reopen": queries.reopen_query,
    }.get(request.POST.get("action"))
    if action is None:
        raise Http404
    try:
        action(query=query, text=request.POST.get("text", ""), by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Query updated.")
    return _back(request, "query_list")


class QueryFilter(forms.Form):
    state = forms.ChoiceField(required=False)
    site = forms.ChoiceField(required=False)
    form = forms.ChoiceField(required=False)
    raiser = forms.ChoiceField(required=False, label="Raised by")

    def __init__(self, *args, user, raisers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [*DataQuery.State.choices, ("all", "All")]
        self.fields["site"].choices = [("", "All your sites")] + [
            (str(site.pk), site.code) for site in user.sites.all()
        ]
        self.fields["form"].choices = [("", "All forms")] + [
            (f.slug, f.title) for f in registry.visible_forms(user)
        ]
        self.fields["raiser"].choices = [("", "Anyone")] + [
            (str(u.pk), u.printed_name) for u in raisers
        ]


@requires()
def query_list(request):
    """Queries with where they are (participant, visit, form, item), what they ask and their
    age, filtered by state, site, form and raiser, oldest first, 25 a page (paging.PAGE_SIZE)."""
    user = request.user
    if not (user.has_perm("accounts.raise_query") or user.has_perm("accounts.answer_query")):
        raise PermissionDenied
    visible = queries.visible_queries(user)
    raisers = User.objects.filter(pk__in=visible.values("opened_by")).order_by("first_name")
    data = {"state": "open", **request.GET.dict()}
    form = QueryFilter(data, user=user, raisers=raisers)
    chosen = form.cleaned_data if form.is_valid() else {"state": "open"}
    rows = visible.select_related("participant", "opened_by").order_by("opened_at", "pk")
    if chosen.get("state") in DataQuery.State.values:
        rows = rows.filter(state=chosen["state"])
    if chosen.get("site"):
        rows = rows.filter(participant__site_id=int(chosen["site"]))
    if chosen.get("form"):
        rows = rows.filter(table_name=registry.by_slug(chosen["form"]).table)
    if chosen.get("raiser"):
        rows = rows.filter(opened_by_id=int(chosen["raiser"]))
    page = keyset_page(request, rows, ("opened_at", "pk"))
    return render(
        request,
        "monitoring/query_list.html",
        {"form": form, "page": page, "rows": queries.query_rows(page.rows, timezone.now())},
    )


# --- Data quality -------------------------------------------------------------------------------
@requires("accounts.review_data_quality")
def data_quality(request):
    """The data-quality report (monitoring/quality.py), check by check, each check's first
    QUALITY_LINES findings and how many it has; as CSV with ?format=csv, every finding, or
    those of one check with &check=."""
    if request.GET.get("format") == "csv":
        check = request.GET.get("check", "")
        checks = (check,) if check in quality.CHECKS else tuple(quality.CHECKS)
        return csv_response(
            f"data-quality-{check}.csv" if len(checks) == 1 else "data-quality.csv",
            ["Check", "Participant", "Visit", "What", "Detail", "Since", "Link"],
            (
                [
                    f.check_label,
                    f.participant_id,
                    f.visit,
                    f.what,
                    f.detail,
                    f.since.isoformat() if f.since else "",
                    request.build_absolute_uri(f.url) if f.url else "",
                ]
                for f in quality.findings(request.user, checks)
            ),
        )
    report = quality.report(request.user, QUALITY_LINES)
    sections = [(check, label, *report[check]) for check, label in quality.CHECKS.items()]
    return render(request, "monitoring/data_quality.html", {"sections": sections})


# --- Signatures ----------------------------------------------------------------------------------
class SignForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Signing means: reviewed and approved. The signature is bound to the data as "
        "they are now; any later change invalidates it.",
    )


@requires("accounts.sign_records", objects={"participant_pk": "enrollment.Participant"})
@require_POST
def sign_records(request, participant_pk: int):
    """Sign a visit (visit posted) or the participant's whole casebook."""
    participant = visible_participant_or_404(request.user, participant_pk)
    visit = None
    if request.POST.get("visit"):
        visit = get_object_or_404(Visit, pk=_int(request.POST["visit"]), participant=participant)
    form = SignForm(request.POST)
    if form.is_valid():
        if (locked := reauth.refused(request, form.cleaned_data["password"])) is not None:
            return locked
        try:
            signatures.sign(
                participant=participant,
                visit=visit,
                password=form.cleaned_data["password"],
                by=request.user,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            what = f"Visit {visit.code}" if visit else "Casebook"
            messages.success(request, f"{what} signed.")
    else:
        messages.error(request, "Enter your password to sign.")
    return _back(request, "dashboard")


# --- The audit trail -----------------------------------------------------------------------------
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class AuditFilter(forms.Form):
    table = forms.ChoiceField(required=False, label="Record type")
    user = forms.CharField(required=False, max_length=150, label="User name")
    field = forms.CharField(required=False, max_length=64, label="Field (column name)")
    since = forms.DateField(required=False, widget=DATE)
    until = forms.DateField(required=False, widget=DATE)

    def __init__(self, *args, tables, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["table"].choices = [("", "All"), *tables]


def _audit_trail(request, events, context: dict, filename: str):
    events = audit_selectors.visible_events(events, request.user)
    form = AuditFilter(request.GET or None, tables=audit_selectors.tables(events))
    filters = form.cleaned_data if form.is_valid() else {}
    events = audit_selectors.filtered(events, filters)
    field = filters.get("field", "")
    if request.GET.get("format") == "csv":
        lines = (
            line
            for chunk in _chunks(events.iterator(chunk_size=AUDIT_PAGE), AUDIT_PAGE)
            for line in audit_selectors.changes(chunk, field=field, user=request.user)
        )
        return csv_response(
            filename,
            ["When (UTC)", "User", "Action", "Record", "Field", "Old", "New", "Reason"],
            (
                [
                    line.event.occurred_at.isoformat(),
                    line.event.actor,
                    line.event.get_action_display(),
                    line.event.subject,
                    line.label,
                    line.old,
                    line.new,
                    line.event.reason or "",
                ]
                for line in lines
            ),
        )
    page = keyset_page(request, events, ("-id",), size=AUDIT_PAGE)
    return render(
        request,
        "audit/audit_trail.html",
        {
            **context,
            "form": form,
            "page": page,
            "lines": audit_selectors.changes(page.rows, field=field, user=request.user),
            "query": request.GET.urlencode(),
        },
    )


AUDIT_PAGE = 100  # audit rows a page of the audit trail shows (each one line per change)


def _chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@requires("accounts.view_audit_trail", objects={"pk": "enrollment.Participant"})
def participant_audit(request, pk: int):
    """Every change to a participant's data, screening and consent included."""
    participant = visible_participant_or_404(request.user, pk)
    return _audit_trail(
        request,
        audit_selectors.participant_events(participant),
        {"participant": participant, "title": f"Audit trail of {participant.participant_id}"},
        f"audit-{participant.participant_id}.csv",
    )


@requires("accounts.view_audit_trail", objects={"form": "form", "pk": "record"})
def record_audit(request, form: str, pk: int):
    """The history of one record of a registered form."""
    definition, record = record_or_404(request.user, form, pk)
    return _audit_trail(
        request,
        audit_selectors.row_events(definition.table, record.pk),
        {
            "participant": definition.participant_of(record),
            "record": record,
            "title": f"History of {definition.title} {record}",
        },
        f"audit-{definition.name}-{record.pk}.csv",
    )
