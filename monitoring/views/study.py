"""Study-wide registers and reports: the protocol deviations listing and the CONSORT flow
diagram."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from monitoring import consort as consort_flow
from monitoring import exports
from monitoring.overview import record_url
from trialsite.access import requires
from trialsite.crf import registry
from trialsite.csv_cells import csv_response
from trialsite.paging import keyset_page
from visits.forms import DeviationFilter


@requires("visits.view_deviation")
def deviation_listing(request):
    """Every protocol deviation at the user's sites, filtered; the same rows as CSV (the
    columns of the export) with ?format=csv."""
    user = request.user
    definition = registry.get("deviation")
    if not definition.visible_to(user):
        raise PermissionDenied  # deviations name dose volumes, which reveal the arm
    form = DeviationFilter(request.GET or None, user=user)
    matching = form.matching()
    if request.GET.get("format") == "csv":
        dataset = exports.form_dataset(
            definition, user=user, site_ids=sorted(user.site_ids), matching=matching
        )
        return csv_response(
            "protocol-deviations.csv", exports.header(dataset), exports.rows(dataset)
        )
    page = keyset_page(
        request,
        definition.records_visible_to(user).filter(matching),
        ("-occurred_on", "participant__participant_id", "number"),
    )
    return render(
        request,
        "monitoring/deviation_listing.html",
        {
            "form": form,
            "page": page,
            "rows": [(d, record_url(definition, d)) for d in page.rows],
            "csv_query": request.GET.urlencode(),
        },
    )


@requires("enrollment.view_participant")
def consort(request):
    """The CONSORT flow diagram, live, at the user's sites."""
    found = consort_flow.flow(request.user)
    return render(
        request,
        "monitoring/consort.html",
        {"flow": found, "diagram": consort_flow.layout(found)},
    )
