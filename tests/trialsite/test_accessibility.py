"""Accessibility: axe-core (axe-playwright-python) on every page type, as each role sees it,
finds no serious or critical WCAG 2.2 AA violation. The pages are also kept as screenshots at
1,366 × 768 and 1,920 × 1,080 (var/screenshots/a11y-*)."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse

from monitoring import queries
from outcomes.models import VasPain
from tests import helpers
from trialsite.crf import registry
from visits.models import SecretomeLot, Visit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SEVERE = {"serious", "critical"}


def page_types(study) -> dict[str, str]:
    """One page of each type, with data in it."""
    a = study["A"]
    m0 = Visit.objects.get(participant=a, code="M0")
    ae = a.adverse_events.first()
    pages = {
        "home": reverse("home"),
        "dashboard": reverse("dashboard"),
        "participants": reverse("participant_list"),
        "participant": reverse("participant_detail", args=[a.pk]),
        "visit": reverse("visit_detail", args=[a.pk, m0.pk]),
        "adverse-event-entry": helpers.form_url("adverse_event", participant=a, number=ae.number),
        "adverse-event": reverse("ae_detail", args=[ae.pk]),
        "adverse-events": reverse("ae_listing"),
        "adverse-events-by-arm": reverse("ae_summary"),
        "review-queue": reverse("review_queue"),
        "screening-log": reverse("screening_log"),
        "screening": reverse("screening_detail", args=[a.screening_id]),
        "screening-new": reverse("screening_new"),
        "queries": reverse("query_list"),
        "downloads": reverse("document_list"),
        "outcomes": reverse("participant_outcomes", args=[a.pk]),
        "pooled-outcomes": reverse("pooled_outcomes"),
        "calendar": reverse("visit_calendar"),
        "lots": reverse("lot_list"),
        "lot": reverse("lot_detail", args=[SecretomeLot.objects.first().pk]),
        "locks": reverse("lock_list"),
        "re-verify": reverse("reverify_list"),
        "data-quality": reverse("data_quality"),
        "audit-trail": reverse("participant_audit", args=[a.pk]),
        "users": reverse("user_list"),
        "password": reverse("password_change"),
        "api-tokens": reverse("api_tokens"),
        "consort": reverse("consort"),
        "deviations": reverse("deviation_listing"),
        "end-of-study": helpers.form_url("end_of_study", participant=a),
    }
    for definition in registry.forms(registry.Kind.LOG):
        pages[f"log-{definition.slug}"] = helpers.form_url(definition.name, participant=a)
    for definition in registry.visit_forms(m0):
        if definition.entered_here:
            pages[f"form-{definition.slug}"] = helpers.form_url(definition.name, visit=m0)
    return pages


@pytest.mark.parametrize("role", ["coordinator", "investigator", "monitor", "data_manager"])
def test_no_page_has_a_serious_wcag_violation(request, live_server, page, study, monitor, role):
    queries.raise_query(
        crf=VasPain.objects.filter(participant=study["A"]).first(),
        field="score_mm",
        question="Please check the ruler reading.",
        by=monitor,
    )
    user = request.getfixturevalue(role)
    helpers.log_in(page, live_server.url, user.username)
    axe = Axe()
    checked, problems = [], []
    for name, url in page_types(study).items():
        response = page.goto(f"{live_server.url}{url}")
        if response.status in (403, 404):  # not this role's page
            continue
        assert response.status == 200, (name, response.status)
        result = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})
        for violation in result.response["violations"]:
            if violation["impact"] in SEVERE:
                where = [node["target"] for node in violation["nodes"][:3]]
                problems.append(f"{name}: {violation['id']} ({violation['impact']}) at {where}")
        checked.append(name)
        if role == "data_manager":
            for width, height in ((1366, 768), (1920, 1080)):
                page.set_viewport_size({"width": width, "height": height})
                helpers.screenshot(page, f"a11y-{name}-{width}.png", full_page=False)
            page.set_viewport_size({"width": 1280, "height": 720})
    assert len(checked) >= 15, checked  # every role opens most page types
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("role", ["coordinator", "investigator", "monitor", "data_manager"])
def test_the_navigation_fits_the_window_at_every_desktop_width(
    request, live_server, page, study, role
):
    """WCAG 1.4.10 (reflow): no page scrolls sideways because of its navigation bar, folded
    into its menu button on a tablet, open on a laptop or a full HD screen, with a long name
    (the registry number and the user's roles beside their name appear only where the line
    has room)."""
    user = request.getfixturevalue(role)
    user.first_name, user.last_name = "Investigator-in-charge", "Surname-Longer"
    user.save(update_fields=["first_name", "last_name"])
    helpers.log_in(page, live_server.url, user.username)
    too_wide = []
    for width in (768, 1024, 1280, 1366, 1400, 1500, 1600, 1800, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}{reverse('home')}")
        scrolled = page.evaluate("document.documentElement.scrollWidth")
        if scrolled > width:
            too_wide.append((width, scrolled))
    assert too_wide == []
    assert page.get_by_test_id("roles").is_visible()  # at 1,920
