from django import forms
from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from enrollment.models import Participant
from monitoring import dashboard as dashboard_grid
from monitoring import documents, queries, signatures, verification
from monitoring.models import DataQuery, Document
from trialsite.crf import locking
from trialsite.crf.models import Lock
from trialsite.crf_views import add_service_errors
from trialsite.crfs import CRF_PAGES
from visits.models import Visit


class UnlockForm(forms.Form):
    reason = forms.CharField(
        label="Reason for unlocking", max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


def _crf_or_404(request, model_label: str, pk):
    """A CRF ("app_label.Model", pk) of a participant at the user's sites, or 404."""
    try:
        model = apps.get_model(model_label)
    except (LookupError, ValueError):
        raise Http404("No such form.") from None
    if model not in {m for m, _ in CRF_PAGES.values()}:
        raise Http404("Only case report forms.")
    return get_object_or_404(model, pk=pk, participant__site_id__in=request.user.site_ids)


def _visible_locks(user):
    """Study locks, and locks on participants of the user's sites."""
    return Lock.objects.filter(participant__isnull=True) | Lock.objects.filter(
        participant__site_id__in=user.site_ids
    )


@login_required
@permission_required("crf.view_lock", raise_exception=True)
def lock_list(request):
    locks = _visible_locks(request.user).select_related("participant", "locked_by", "unlocked_by")
    return render(request, "monitoring/lock_list.html", {"locks": locks, "form": UnlockForm()})


@login_required
@require_POST
@permission_required("accounts.lock_data", raise_exception=True)
def lock_new(request):
    """Lock what the posted scope names: the study, a participant, a visit or a record."""
    scope = request.POST.get("scope")
    user_sites = request.user.site_ids
    target = {}
    if scope == Lock.Scope.PARTICIPANT:
        target["participant"] = get_object_or_404(
            Participant, pk=request.POST.get("participant"), site_id__in=user_sites
        )
    elif scope == Lock.Scope.VISIT:
        target["visit"] = get_object_or_404(
            Visit, pk=request.POST.get("visit"), participant__site_id__in=user_sites
        )
    elif scope == Lock.Scope.RECORD:
        target["record"] = _crf_or_404(
            request, request.POST.get("model", ""), request.POST.get("pk")
        )
    elif scope != Lock.Scope.STUDY:
        raise Http404
    lock = locking.lock(scope=scope, by=request.user, **target)
    messages.success(request, f"Locked: {lock.description}.")
    return _back(request, "lock_list")


@login_required
@permission_required("accounts.lock_data", raise_exception=True)
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


@login_required
@require_POST
@permission_required("accounts.verify_source_data", raise_exception=True)
def verify_record(request, model: str, pk: int):
    """Mark a CRF source-verified at its current version."""
    crf = _crf_or_404(request, model, pk)
    verification.verify_crf(crf=crf, by=request.user)
    messages.success(request, f"{crf} marked source-verified (version {crf.version}).")
    return _back(request, "reverify_list")


@login_required
@permission_required("accounts.verify_source_data", raise_exception=True)
def reverify_list(request):
    """CRFs changed since a monitor verified them."""
    return render(
        request, "monitoring/reverify_list.html", {"rows": verification.to_reverify(request.user)}
    )


def _back(request, fallback: str):
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect(fallback)


@login_required
@require_POST
@permission_required("accounts.raise_query", raise_exception=True)
def query_new(request):
    crf = _crf_or_404(request, request.POST.get("model", ""), request.POST.get("pk"))
    try:
        queries.raise_query(
            crf=crf,
            field=request.POST.get("field", ""),
            question=request.POST.get("question", ""),
            by=request.user,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Query raised.")
    return _back(request, "query_list")


@login_required
@require_POST
def query_action(request, pk: int):
    query = get_object_or_404(DataQuery, pk=pk, participant__site_id__in=request.user.site_ids)
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


@login_required
def query_list(request):
    if not (
        request.user.has_perm("accounts.raise_query")
        or request.user.has_perm("accounts.answer_query")
    ):
        raise PermissionDenied
    state = request.GET.get("state", "open")
    rows = DataQuery.objects.filter(participant__site_id__in=request.user.site_ids).select_related(
        "participant"
    )
    if state in DataQuery.State.values:
        rows = rows.filter(state=state)
    return render(request, "monitoring/query_list.html", {"rows": rows, "state": state})


@login_required
@permission_required("enrollment.view_participant", raise_exception=True)
def dashboard(request):
    """Participants × visits with the status of every CRF due, 25 participants a page."""
    participants = Participant.objects.visible_to(request.user).select_related("site")
    if request.GET.get("site"):
        participants = participants.filter(site_id=request.GET["site"])
    page = Paginator(participants, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "monitoring/dashboard.html",
        {
            "page": page,
            "rows": dashboard_grid.grid(list(page.object_list), request.user),
            "codes": dashboard_grid.SCHEDULE,
            "sites": request.user.sites.all(),
            "legend": dashboard_grid.LABELS,
        },
    )


class SignForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Signing means: reviewed and approved. The signature is bound to the data as "
        "they are now; any later change invalidates it.",
    )


@login_required
@require_POST
@permission_required("accounts.sign_records", raise_exception=True)
def sign_records(request, participant_pk: int):
    """Sign a visit (visit posted) or the participant's whole casebook."""
    participant = get_object_or_404(
        Participant, pk=participant_pk, site_id__in=request.user.site_ids
    )
    visit = None
    if request.POST.get("visit"):
        visit = get_object_or_404(Visit, pk=request.POST["visit"], participant=participant)
    form = SignForm(request.POST)
    if form.is_valid():
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


# --- PDFs and exports ----------------------------------------------------------------------------
@login_required
def document_list(request):
    """The user's PDFs and exports, blank CRFs for the site binder, and the data exports."""
    template = "monitoring/_document_table.html" if request.htmx else "monitoring/documents.html"
    blank_forms = [
        (name, CRF_PAGES[name][0].crf_title) for name in documents.visible_crf_names(request.user)
    ]
    recent = documents.recent_documents(request.user)
    context = {
        "documents": recent,
        "in_flight": any(d.in_flight for d, _ in recent),
        "blank_forms": blank_forms,
    }
    return render(request, template, context)


@login_required
@require_POST
def document_request(request):
    """Queue the PDF or export named by the POSTed kind; show its progress page."""
    document = documents.request_document(
        kind=request.POST.get("kind", ""), data=request.POST, by=request.user
    )
    return redirect("document_status", pk=document.pk)


@login_required
def document_status(request, pk: int):
    """Progress of one document, polled by htmx; POST tries a failed rendering again."""
    document = documents.own_document_or_404(request.user, pk)
    if request.method == "POST":
        document = documents.retry_document(document=document, by=request.user)
        return redirect("document_status", pk=document.pk)
    template = "monitoring/_document_status.html" if request.htmx else "monitoring/document.html"
    return render(
        request,
        template,
        {"document": document, "stale": documents.is_stale(document)},
    )


@login_required
def document_download(request, pk: int):
    """The file, logged. A stale file is made again, unless the earlier one is asked for."""
    document = documents.own_document_or_404(request.user, pk)
    if document.status != Document.Status.READY:
        raise Http404("The file is not ready.")
    if documents.is_stale(document) and not request.GET.get("earlier"):
        fresh = documents.regenerate_document(document=document, by=request.user)
        messages.info(
            request,
            "The data changed after this file was made: an up-to-date one is being made.",
        )
        return redirect("document_status", pk=fresh.pk)
    documents.log_download(document=document, by=request.user)
    return FileResponse(document.file.open("rb"), as_attachment=True, filename=document.filename)


@login_required
def document_tray(request):
    """The navigation bar's note of documents in progress and just finished (htmx)."""
    return render(request, "monitoring/_document_tray.html", documents.tray(request.user))
