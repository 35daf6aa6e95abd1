from datetime import UTC, datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from safety import selectors, services
from safety.forms import ListingFilter, SignatureForm
from safety.models import AdverseEvent
from trialsite.access import requires
from trialsite.accounts import reauth
from trialsite.crf.services import CrfConflict
from trialsite.crf.views import add_service_errors
from trialsite.csv_cells import csv_response
from trialsite.paging import keyset_page

NEVER = datetime(9999, 12, 31, tzinfo=UTC)  # sorts after every time an AE became known


def _visible_ae(request, pk: int) -> AdverseEvent:
    return get_object_or_404(
        AdverseEvent.objects.visible_to(request.user).select_related("participant", "site"), pk=pk
    )


@requires("safety.view_adverseevent", objects={"pk": "safety.AdverseEvent"})
def ae_detail(request, pk: int):
    ae = _visible_ae(request, pk)
    now = timezone.now()
    hidden = selectors.hidden_items(request.user)
    clocks = ae.clocks(susar="susar" not in hidden) if not ae.is_signed else []
    return render(
        request,
        "safety/ae_detail.html",
        {
            "ae": ae,
            "clocks": [(c, c.overdue(now)) for c in clocks],
            "hidden": hidden,
            "related": selectors.related(ae, request.user),
        },
    )


@requires("accounts.review_adverse_events")
def review_queue(request):
    events = (
        AdverseEvent.objects.visible_to(request.user)
        .awaiting_review()
        .select_related("participant", "site")
        # Serious ones first, the longest known first (their reporting clocks run from then).
        .annotate(known_since=Coalesce("awareness_at", Value(NEVER)))
    )
    page = keyset_page(request, events, ("-serious", "known_since", "onset_date"))
    now = timezone.now()
    return render(
        request,
        "safety/review_queue.html",
        {"page": page, "rows": [(ae, ae.sae_overdue(now)) for ae in page.rows]},
    )


@requires("accounts.review_adverse_events", objects={"pk": "safety.AdverseEvent"})
def ae_sign(request, pk: int):
    ae = _visible_ae(request, pk)
    if not request.user.has_perm("accounts.sign_records"):
        raise PermissionDenied
    form = SignatureForm(request.POST or None, instance=ae)
    if request.method == "POST" and form.is_valid():
        if (locked := reauth.refused(request, form.cleaned_data["password"])) is not None:
            return locked
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


@requires("safety.view_adverseevent")
def ae_listing(request):
    form = ListingFilter(request.GET or None, user=request.user)
    filters = form.cleaned_data if form.is_valid() else {}
    events = selectors.listing(request.user, filters)
    columns = selectors.listing_columns(request.user)
    if request.GET.get("format") == "csv":
        return csv_response(
            "adverse-events.csv",
            [name for name, _ in columns],
            ([value(ae) for _, value in columns] for ae in events.iterator(chunk_size=500)),
        )
    page = keyset_page(request, events, events.query.order_by)
    return render(
        request,
        "safety/ae_listing.html",
        {
            "form": form,
            "page": page,
            "rows": [(ae, selectors.related(ae, request.user)) for ae in page.rows],
            "hidden": selectors.hidden_items(request.user),
            "query": request.GET.urlencode(),
        },
    )


@requires("safety.view_adverseevent")
def ae_summary(request):
    return render(request, "safety/ae_summary.html", {"groups": selectors.summary(request.user)})
