import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from enrollment.selectors import visible_participant_or_404
from safety import selectors, services
from safety.forms import AdverseEventForm, ListingFilter, SignatureForm
from safety.models import AdverseEvent
from trialsite.crf.services import CrfConflict
from trialsite.crf_views import add_service_errors, conflict_response


def _visible_ae(request, pk: int) -> AdverseEvent:
    return get_object_or_404(
        AdverseEvent.objects.visible_to(request.user).select_related("participant", "site"), pk=pk
    )


@login_required
@permission_required("safety.add_adverseevent", raise_exception=True)
def ae_new(request, participant_pk: int):
    participant = visible_participant_or_404(request.user, participant_pk)
    form = AdverseEventForm(request.POST or None, participant=participant)
    if request.method == "POST" and form.is_valid():
        try:
            ae = services.report_adverse_event(
                participant=participant, data=form.data_values(), by=request.user
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            note = " The investigators are being e-mailed now." if ae.serious else ""
            messages.success(request, f"Adverse event {ae.number} reported.{note}")
            return redirect("ae_detail", pk=ae.pk)
    return render(
        request,
        "safety/ae_form.html",
        {"form": form, "participant": participant, "ae": None},
        status=400 if form.errors else 200,
    )


@login_required
@permission_required("safety.change_adverseevent", raise_exception=True)
def ae_edit(request, pk: int):
    ae = _visible_ae(request, pk)
    form = AdverseEventForm(request.POST or None, instance=ae, participant=ae.participant)
    if request.method == "POST" and form.is_valid():
        if not form.changes_data():
            messages.info(request, "Nothing was changed.")
            return redirect("ae_detail", pk=ae.pk)
        try:
            services.update_adverse_event(
                ae=ae,
                data=form.data_values(),
                version=form.cleaned_data["version"],
                reason=form.cleaned_data.get("reason_for_change", ""),
                by=request.user,
            )
        except CrfConflict as conflict:
            return conflict_response(
                request, _bound(ae.participant), form, conflict.current, {"ae": ae}
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            signed = " The investigator's signature was voided." if ae.is_signed else ""
            messages.success(request, f"Adverse event {ae.number} updated.{signed}")
            return redirect("ae_detail", pk=ae.pk)
    return render(
        request,
        "safety/ae_form.html",
        {"form": form, "participant": ae.participant, "ae": ae},
        status=400 if form.errors else 200,
    )


def _bound(participant):
    """AdverseEventForm with its participant, for the conflict page."""

    def make(*args, **kwargs):
        return AdverseEventForm(*args, participant=participant, **kwargs)

    return make


@login_required
@permission_required("safety.view_adverseevent", raise_exception=True)
def ae_detail(request, pk: int):
    ae = _visible_ae(request, pk)
    now = timezone.now()
    clocks = [(c, c.overdue(now)) for c in ae.clocks()] if not ae.is_signed else []
    return render(request, "safety/ae_detail.html", {"ae": ae, "clocks": clocks})


@login_required
@permission_required("accounts.review_adverse_events", raise_exception=True)
def review_queue(request):
    events = list(
        AdverseEvent.objects.visible_to(request.user)
        .awaiting_review()
        .select_related("participant", "site")
        .order_by("-serious", "awareness_at", "onset_date")
    )
    now = timezone.now()
    return render(
        request,
        "safety/review_queue.html",
        {"rows": [(ae, ae.sae_overdue(now)) for ae in events]},
    )


@login_required
@permission_required("accounts.review_adverse_events", raise_exception=True)
def ae_sign(request, pk: int):
    ae = _visible_ae(request, pk)
    if not request.user.has_perm("accounts.sign_records"):
        raise PermissionDenied
    form = SignatureForm(request.POST or None, instance=ae)
    if request.method == "POST" and form.is_valid():
        try:
            services.sign_adverse_event(
                ae=ae,
                password=form.cleaned_data["password"],
                confirmed=form.confirmed(),
                version=form.cleaned_data["version"],
                by=request.user,
            )
        except CrfConflict:
            messages.error(request, "The event changed while you reviewed it: review it again.")
            return redirect("ae_sign", pk=ae.pk)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Adverse event {ae.number} signed.")
            return redirect("review_queue")
    return render(
        request, "safety/ae_sign.html", {"ae": ae, "form": form}, status=400 if form.errors else 200
    )


@login_required
@permission_required("safety.view_adverseevent", raise_exception=True)
def ae_listing(request):
    form = ListingFilter(request.GET or None, user=request.user)
    filters = form.cleaned_data if form.is_valid() else {}
    events = selectors.listing(request.user, filters)
    columns = selectors.listing_columns(request.user)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="adverse-events.csv"'
        writer = csv.writer(response)
        writer.writerow([name for name, _ in columns])
        for ae in events:
            writer.writerow([value(ae) for _, value in columns])
        return response
    return render(
        request,
        "safety/ae_listing.html",
        {"form": form, "events": events, "query": request.GET.urlencode()},
    )


@login_required
@permission_required("safety.view_adverseevent", raise_exception=True)
def ae_summary(request):
    return render(request, "safety/ae_summary.html", {"groups": selectors.summary(request.user)})
