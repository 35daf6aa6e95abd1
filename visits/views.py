from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from trialsite import protocol
from trialsite.access import requires
from trialsite.crf.forms import MOMENT_FORMAT
from trialsite.crf.views import add_service_errors
from trialsite.links import link
from trialsite.paging import keyset_page
from visits import selectors, services
from visits.forms import (
    DestroyForm,
    LotForm,
    ReleaseDecisionForm,
    ReleaseTestForm,
)
from visits.models import Injection, SecretomeLot


@requires("visits.view_visit")
def calendar(request):
    """Visits due in the next days and overdue visits, at the user's sites."""
    overdue, upcoming, today = selectors.due_visits(request.user)
    return render(
        request,
        "visits/calendar.html",
        {
            "overdue": keyset_page(request, overdue, selectors.DUE_ORDER, param="overdue"),
            "upcoming": keyset_page(request, upcoming, selectors.DUE_ORDER, param="upcoming"),
            "today": today,
            "days": protocol.UPCOMING_VISIT_DAYS,
        },
    )


# --- Secretome lots ---------------------------------------------------------------------------
@requires("visits.view_secretomelot")
def lot_list(request):
    """The lots received, latest made first, a page at a time: a lot is one batch of
    secretome, and a study a thousand times this one receives thousands."""
    page = keyset_page(request, SecretomeLot.objects.all(), LOT_ORDER)
    rows = [_lot_row(lot) for lot in page.rows]
    return render(request, "visits/lot_list.html", {"page": page, "rows": rows})


LOT_ORDER = ("-manufactured_on", "lot_number")
_BADGE = {SecretomeLot.Status.RELEASED: "success", SecretomeLot.Status.REJECTED: "danger"}


def _badge(lot: SecretomeLot) -> str:
    """The colour of the lot's status, on the register and the lot page."""
    return _BADGE.get(lot.status, "warning")


def _lot_row(lot: SecretomeLot) -> dict:
    """A row of the register, its values ready to show (a template's url tag and date filter
    cost more than the rest of the row)."""
    return {
        "url": link("lot_detail", lot.pk),
        "lot_number": lot.lot_number,
        "cell_source": lot.get_cell_source_display(),
        "manufactured_on": lot.manufactured_on.isoformat(),
        "expires_on": lot.expires_on.isoformat(),
        "status": lot.get_status_display(),
        "badge": _badge(lot),
        "balance_ml": lot.balance_ml,
    }


@requires("visits.add_secretomelot")
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


@requires("visits.view_secretomelot", objects={"pk": "visits.SecretomeLot"})
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
    # Every participant who received this lot (for recalls); only the user's sites are named,
    # the others counted. Ledger and recipients come a page at a time.
    tests = lot.tests.select_related("recorded_by").prefetch_related("recorded_by__sites")
    injections = Injection.objects.filter(secretome_lot=lot)
    at_my_sites = Q(site_id__in=request.user.site_ids)
    recipients = Paginator(
        injections.filter(at_my_sites)
        .select_related("participant", "visit")
        .order_by("injected_at", "pk"),
        LOT_PAGE_SIZE,
    ).get_page(request.GET.get("recipients"))
    ledger = Paginator(
        lot.ledger.select_related("by", "participant").prefetch_related("by__sites").order_by("pk"),
        LOT_PAGE_SIZE,
    ).get_page(request.GET.get("ledger"))
    return render(
        request,
        "visits/lot_detail.html",
        {
            "lot": lot,
            "status_badge": _badge(lot),
            "tests": [(t, _named(t.recorded_by, request.user)) for t in tests],
            "decided_by": _named(lot.decided_by, request.user),
            "ledger": _ledger(ledger, request.user),
            "ledger_page": ledger,
            "recipients": recipients,
            "recipient_rows": [_recipient_row(injection) for injection in recipients],
            "other_site_recipients": injections.exclude(at_my_sites).count(),
            "missing_tests": services.missing_release_tests(lot),
            **forms,
        },
        status=400 if any(f.errors for f in forms.values()) else 200,
    )


OTHER_SITE = "someone at another site"
LOT_PAGE_SIZE = 50


def _named(person, viewer) -> str:
    """A person's name, for a viewer who shares a site with them; otherwise who they are not."""
    if person is None:
        return ""
    sites = {site.pk for site in person.sites.all()}  # prefetched by the callers
    if viewer.is_superuser or person.pk == viewer.pk or sites & viewer.site_ids:
        return person.printed_name
    return OTHER_SITE


def _moment(value) -> str:
    """A time at the site, as the template's date filter "Y-m-d H:i" writes it (but cheaper:
    the lot page writes one a line, a hundred lines a page)."""
    return timezone.localtime(value).strftime(MOMENT_FORMAT)


def _recipient_row(injection: Injection) -> dict:
    return {
        "url": link("participant_detail", injection.participant_id),
        "participant_id": injection.participant.participant_id,
        "visit": injection.visit.code,
        "injected_at": _moment(injection.injected_at),
        "volume_ml": injection.secretome_volume_ml,
    }


def _ledger(lines_, user) -> list[dict]:
    """Ledger lines as `user` may see them: a line of another site's participant names
    neither the participant nor the person, nor keeps its note (which names the visit)."""
    lines = []
    for line in lines_:
        other = line.participant_id and line.participant.site_id not in user.site_ids
        lines.append(
            {
                "line": line,
                "at": _moment(line.at),
                "kind": line.get_kind_display(),
                "participant": "another site" if other else line.participant or "",
                "note": "" if other else line.note,
                "by": OTHER_SITE if other else _named(line.by, user),
            }
        )
    return lines


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
