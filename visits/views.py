from datetime import timedelta
from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render

from enrollment.selectors import visible_participant_or_404
from monitoring.models import Signature
from monitoring.signatures import is_valid
from trialsite.crf_views import add_service_errors, edit_crf
from visits import services
from visits.forms import (
    DestroyForm,
    InjectionForm,
    LotForm,
    MissedVisitForm,
    PrgfPreparationForm,
    ReleaseDecisionForm,
    ReleaseTestForm,
    UnscheduledVisitForm,
    VisitDateForm,
)
from visits.models import Injection, SecretomeLot, Visit

CALENDAR_DAYS = 14

injection = partial(
    edit_crf,
    form_class=InjectionForm,
    template="visits/injection.html",
    save=services.record_injection,
)
prgf_preparation = partial(
    edit_crf,
    form_class=PrgfPreparationForm,
    template="visits/prgf_preparation.html",
    save=services.record_prgf_preparation,
)


@login_required
@permission_required("visits.view_visit", raise_exception=True)
def visit_detail(request, participant_pk: int, visit_pk: int):
    participant = visible_participant_or_404(request.user, participant_pk)
    visit = get_object_or_404(Visit, pk=visit_pk, participant=participant)
    date_form = VisitDateForm(initial={"visit_date": visit.visit_date})
    missed_form = MissedVisitForm()
    if request.method == "POST" and request.user.has_perm("visits.change_visit"):
        try:
            if "missed" in request.POST:
                missed_form = MissedVisitForm(request.POST)
                if missed_form.is_valid():
                    services.record_missed_visit(
                        visit=visit,
                        reason=missed_form.cleaned_data["missed_reason"],
                        by=request.user,
                    )
                    messages.success(request, "Visit recorded as missed.")
                    return redirect("participant_detail", pk=participant.pk)
            else:
                date_form = VisitDateForm(request.POST)
                if date_form.is_valid():
                    services.record_visit(
                        visit=visit,
                        visit_date=date_form.cleaned_data["visit_date"],
                        by=request.user,
                    )
                    messages.success(request, "Visit date saved.")
                    return redirect("participant_detail", pk=participant.pk)
        except ValidationError as error:
            add_service_errors(missed_form if "missed" in request.POST else date_form, error)
    elif request.method == "POST":
        raise PermissionDenied
    forms_with_errors = date_form.errors or missed_form.errors
    return render(
        request,
        "visits/visit_detail.html",
        {
            "participant": participant,
            "visit": visit,
            "date_form": date_form,
            "missed_form": missed_form,
            "today": services.site_today(participant.site),
            "signatures": [
                (s, is_valid(s))
                for s in Signature.objects.filter(visit=visit).select_related("participant")
            ],
        },
        status=400 if forms_with_errors else 200,
    )


@login_required
@permission_required("visits.add_visit", raise_exception=True)
def unscheduled_visit_new(request, participant_pk: int):
    participant = visible_participant_or_404(request.user, participant_pk)
    form = UnscheduledVisitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.add_unscheduled_visit(
                participant=participant,
                visit_date=form.cleaned_data["visit_date"],
                reason=form.cleaned_data["unscheduled_reason"],
                by=request.user,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Unscheduled visit added.")
            return redirect("participant_detail", pk=participant.pk)
    return render(
        request,
        "visits/unscheduled_visit_form.html",
        {"participant": participant, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@permission_required("visits.view_visit", raise_exception=True)
def calendar(request):
    """Visits due in the next 14 days and overdue visits, at the user's sites."""
    site = request.user.sites.order_by("pk").first()
    today = services.site_today(site) if site else None
    visits = (
        Visit.objects.filter(
            participant__site_id__in=request.user.site_ids,
            visit_date__isnull=True,
            missed_reason="",
            target_date__isnull=False,
        )
        .filter(participant__screening__consent__withdrawn_on__isnull=True)
        .select_related("participant", "participant__site")
        .order_by("window_closes", "participant__participant_id")
    )
    if today is not None:
        horizon = today + timedelta(days=CALENDAR_DAYS)
        visits = visits.filter(Q(window_closes__lt=today) | Q(window_opens__lte=horizon))
    overdue, upcoming = [], []
    for visit in visits if today else []:
        (overdue if visit.window_closes < today else upcoming).append(visit)
    return render(
        request,
        "visits/calendar.html",
        {"overdue": overdue, "upcoming": upcoming, "today": today, "days": CALENDAR_DAYS},
    )


# --- Secretome lots ---------------------------------------------------------------------------
@login_required
@permission_required("visits.view_secretomelot", raise_exception=True)
def lot_list(request):
    return render(
        request, "visits/lot_list.html", {"lots": SecretomeLot.objects.select_related("decided_by")}
    )


@login_required
@permission_required("visits.add_secretomelot", raise_exception=True)
def lot_new(request):
    form = LotForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            lot = services.register_lot(data=form.cleaned_data, by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Lot {lot.lot_number} received into quarantine.")
            return redirect("lot_detail", pk=lot.pk)
    return render(
        request, "visits/lot_form.html", {"form": form}, status=400 if form.errors else 200
    )


@login_required
@permission_required("visits.view_secretomelot", raise_exception=True)
def lot_detail(request, pk: int):
    lot = get_object_or_404(SecretomeLot, pk=pk)
    forms = {
        "test_form": ReleaseTestForm(prefix="test"),
        "decision_form": ReleaseDecisionForm(prefix="decision"),
        "destroy_form": DestroyForm(prefix="destroy"),
    }
    if request.method == "POST":
        response = _lot_action(request, lot, forms)
        if response is not None:
            return response
    # Every participant who received this lot (for recalls); only the user's sites are named.
    recipients = (
        Injection.objects.filter(secretome_lot=lot)
        .select_related("participant", "visit")
        .order_by("injected_at")
    )
    return render(
        request,
        "visits/lot_detail.html",
        {
            "lot": lot,
            "tests": lot.tests.select_related("recorded_by"),
            "ledger": lot.ledger.select_related("by", "participant"),
            "recipients": [r for r in recipients if r.participant.site_id in request.user.site_ids],
            "other_site_recipients": sum(
                1 for r in recipients if r.participant.site_id not in request.user.site_ids
            ),
            "missing_tests": services.missing_release_tests(lot),
            **forms,
        },
        status=400 if any(f.errors for f in forms.values()) else 200,
    )


def _lot_action(request, lot, forms):
    """Handle one of the lot page's forms; returns a redirect on success, else None."""
    action = request.POST.get("action")
    needed = {
        "test": "visits.add_releasetest",
        "decision": "accounts.release_lot",
        "destroy": "visits.add_lottransaction",
    }.get(action)
    if needed is None or not request.user.has_perm(needed):
        raise PermissionDenied
    form_class = {"test": ReleaseTestForm, "decision": ReleaseDecisionForm}.get(action, DestroyForm)
    form = forms[f"{action}_form"] = form_class(request.POST, prefix=action)
    if form.is_valid():
        data, by = form.cleaned_data, request.user
        try:
            if action == "test":
                services.record_release_test(lot=lot, data=data, by=by)
            elif action == "decision":
                release = data["decision"] == "release"
                services.decide_lot_release(lot=lot, release=release, note=data["note"], by=by)
            else:
                services.destroy_stock(
                    lot=lot, volume_ml=data["volume_ml"], note=data["note"], by=by
                )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Saved.")
            return redirect("lot_detail", pk=lot.pk)
    return None
