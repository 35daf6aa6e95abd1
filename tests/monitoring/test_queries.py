"""Data queries: Open → Answered → Closed (and reopened), nothing deleted; soft checks; the
query list and the badges that lead to queries where the work is."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from playwright.sync_api import expect

from monitoring import queries
from monitoring.models import DataQuery, QueryMessage
from outcomes.models import VasPain
from tests import factories, helpers
from tests.helpers import form_url, log_in, screenshot
from tests.helpers import vas_post as post_data
from tests.helpers import vas_url as url
from trialsite import roles
from trialsite.crf.services import save_crf
from visits.models import Visit

pytestmark = pytest.mark.django_db


def test_the_query_state_machine(monitor, coordinator, vas):
    query = queries.raise_query(crf=vas, field="score_mm", question="Ruler reading?", by=monitor)
    assert (query.state, query.field_label) == ("open", "VAS pain (mm)")
    with pytest.raises(ValidationError, match="is open"):
        queries.reopen_query(query=query, text="x", by=monitor)
    query = queries.answer_query(query=query, text="Re-measured: 44 mm", by=coordinator)
    assert query.state == "answered"
    with pytest.raises(ValidationError, match="is answered"):
        queries.answer_query(query=query, text="again", by=coordinator)
    query = queries.reopen_query(query=query, text="Please attach the source", by=monitor)
    query = queries.answer_query(query=query, text="Source filed", by=coordinator)
    query = queries.close_query(query=query, text="Resolved", by=monitor)
    assert query.state == "closed"
    kinds = list(QueryMessage.objects.filter(query=query).values_list("kind", flat=True))
    assert kinds == ["question", "answer", "reopen", "answer", "close"]


@pytest.mark.parametrize(
    ("persona", "action"),
    [
        ("coordinator", "raise"),
        ("investigator", "raise"),
        ("monitor", "answer"),
        ("coordinator", "close"),
    ],
)
def test_roles(request, monitor, vas, persona, action):
    user = request.getfixturevalue(persona)
    query = queries.raise_query(crf=vas, field="score_mm", question="?", by=monitor)
    with pytest.raises(PermissionDenied):
        if action == "raise":
            queries.raise_query(crf=vas, field="score_mm", question="?", by=user)
        elif action == "answer":
            queries.answer_query(query=query, text="x", by=user)
        else:
            queries.close_query(query=query, text="x", by=user)


def test_a_query_needs_a_question_and_a_real_field(monitor, vas):
    with pytest.raises(ValidationError):
        queries.raise_query(crf=vas, field="score_mm", question=" ", by=monitor)
    with pytest.raises(ValidationError):
        queries.raise_query(crf=vas, field="no_such_field", question="?", by=monitor)
    assert not DataQuery.objects.exists()


def test_queries_through_the_crf_page(client, monitor, coordinator, vas):
    page = url(vas.visit)
    client.force_login(monitor)
    client.post(
        reverse("query_new"),
        {
            "form": "vas-pain",
            "pk": vas.pk,
            "field": "score_mm",
            "question": "Check ruler",
            "next": page,
        },
    )
    query = DataQuery.objects.get()
    client.force_login(coordinator)
    assert "Check ruler" in client.get(page).content.decode()
    client.post(
        reverse("query_action", args=[query.pk]),
        {"action": "answer", "text": "44 mm", "next": page},
    )
    client.force_login(monitor)
    client.post(
        reverse("query_action", args=[query.pk]), {"action": "close", "text": "ok", "next": page}
    )
    query.refresh_from_db()
    assert query.state == "closed"
    listed = client.get(reverse("query_list"), {"state": "closed"}).context["rows"]
    assert [row.query for row in listed] == [query]


def test_another_site_cannot_touch_a_query(client, monitor, outsider, vas):
    query = queries.raise_query(crf=vas, field="score_mm", question="?", by=monitor)
    client.force_login(outsider)
    response = client.post(
        reverse("query_action", args=[query.pk]), {"action": "answer", "text": "x"}
    )
    assert response.status_code == 404


def test_a_soft_check_asks_for_confirmation_then_saves_and_opens_a_query(
    client, coordinator, arm_a
):
    m0 = Visit.objects.get(participant=arm_a, code="M0")
    save_crf(
        crf_class=VasPain,
        visit=m0,
        data=helpers.vas_answers(score_mm=80),
        version=0,
        complete=True,
        by=coordinator,
    )
    m1 = Visit.objects.get(participant=arm_a, code="M1")
    client.force_login(coordinator)
    response = client.post(url(m1), post_data(score_mm="10"))
    assert response.status_code == 400
    assert "differs from the baseline 80 mm" in str(response.context["form"].errors["score_mm"])
    assert "I confirm these values" in response.content.decode()
    assert not VasPain.objects.filter(visit=m1).exists()
    response = client.post(url(m1), post_data(score_mm="10", confirm_unusual="on"))
    assert response.status_code == 302
    crf = VasPain.objects.get(visit=m1)
    query = DataQuery.objects.get()
    assert (query.row_pk, query.field, query.automatic, query.state) == (
        str(crf.pk),
        "score_mm",
        True,
        "open",
    )
    assert "Soft check" in query.messages.get().text


# --- In the browser (Playwright driving Debian's Chromium) --------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_query_round_trip(live_server, page):
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    factories.UserFactory(username="monitor", role=roles.MONITOR, sites=[site])
    participant = factories.participant_with_visits(site=site, by=coordinator)
    m0 = participant.visits.get(code="M0")
    save_crf(
        crf_class=VasPain,
        visit=m0,
        data=helpers.vas_answers(score_mm=40),
        version=0,
        complete=True,
        by=coordinator,
    )
    crf_page = f"{live_server.url}{form_url('vas_pain', visit=m0)}"

    log_in(page, live_server.url, "monitor")
    page.goto(crf_page)
    page.get_by_text("Raise a query").click()
    page.get_by_label("Field").select_option(label="VAS pain (mm)")
    page.get_by_label("Question").fill("The source says 44 mm: please check.")
    page.get_by_role("button", name="Raise query").click()
    expect(page.get_by_test_id("queries")).to_contain_text("Open")
    page.get_by_role("button", name="Monitor").click()
    page.get_by_role("button", name="Log out").click()

    log_in(page, live_server.url, "coordinator")
    page.goto(crf_page)
    page.get_by_label("VAS pain (mm)", exact=True).fill("44")
    page.get_by_label("Reason for change").fill("Transcription error, query 1")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("VAS pain saved.")).to_be_visible()
    page.get_by_placeholder("Answer").fill("Corrected to 44 mm from the source.")
    page.get_by_role("button", name="Answer").click()
    expect(page.get_by_test_id("queries")).to_contain_text("Answered")
    page.get_by_role("button", name="Coordinator").click()
    page.get_by_role("button", name="Log out").click()

    log_in(page, live_server.url, "monitor")
    page.goto(crf_page)
    page.get_by_placeholder("Note").fill("Agrees with source.")
    page.get_by_role("button", name="Close").click()
    expect(page.get_by_test_id("queries")).to_contain_text("Closed")
    screenshot(page, "query-closed.png")

    query = DataQuery.objects.get()
    assert query.state == "closed"
    assert [m.kind for m in query.messages.all()] == ["question", "answer", "close"]
    assert VasPain.objects.get(visit=m0).score_mm == 44


def test_the_query_list_says_where_each_query_is_and_filters_it(
    client, monitor, data_manager, coordinator, study, islamabad
):
    a, b = study["A"], study["B"]
    vas = VasPain.objects.get(participant=a, visit__code="M0")
    first = queries.raise_query(crf=vas, field="score_mm", question="Ruler reading?", by=monitor)
    screening = b.screening
    second = queries.raise_query(
        crf=screening, field="weight_kg", question="Scale calibrated?", by=data_manager
    )
    DataQuery.objects.filter(pk=first.pk).update(opened_at=first.opened_at - timedelta(days=9))
    client.force_login(coordinator)
    page = client.get(reverse("query_list"))
    rows = page.context["rows"]
    assert [r.query for r in rows] == [first, second]  # oldest first
    assert (rows[0].visit, rows[0].form, rows[0].question, rows[0].age_days) == (
        "M0",
        "VAS pain",
        "Ruler reading?",
        9,
    )
    assert rows[0].url == form_url("vas_pain", visit=vas.visit) + f"#query-{first.pk}"
    assert (rows[1].visit, rows[1].form) == ("", "Screening")
    html = page.content.decode()
    assert "Ruler reading?" in html and "VAS pain (mm)" in html and "9 d" in html

    def listed(**filters):
        response = client.get(reverse("query_list"), filters)
        return [r.query for r in response.context["rows"]]

    assert listed(form="vas-pain") == [first]
    assert listed(form="screening") == [second]
    assert listed(raiser=str(data_manager.pk)) == [second]
    assert listed(site=str(a.site_id)) == [first, second]
    assert listed(state="closed") == []
    queries.answer_query(query=first, text="44 mm", by=coordinator)
    assert listed(state="answered") == [first] and listed() == [second]
    assert listed(state="all") == [first, second]
    # Filters name only what the user may choose: another site is no choice.
    response = client.get(reverse("query_list"), {"site": str(islamabad.pk)})
    assert [r.query for r in response.context["rows"]] == [second]  # ignored, default list


def test_a_badge_leads_from_the_record_pages_to_the_field_and_its_thread(
    client, monitor, coordinator, vas
):
    query = queries.raise_query(crf=vas, field="score_mm", question="Ruler reading?", by=monitor)
    client.force_login(coordinator)
    html = client.get(url(vas.visit)).content.decode()
    badge = f'href="#query-{query.pk}" data-testid="field-query">Open query on VAS pain (mm)'
    assert badge in html
    assert html.index(badge) < html.index('name="score_mm"')  # next to its field
    assert f'id="query-{query.pk}"' in html and "Ruler reading?" in html  # the thread inline
    assert 'id="answer-' in html  # answerable there
    for page in (
        reverse("visit_detail", args=[vas.participant_id, vas.visit_id]),
        reverse("participant_detail", args=[vas.participant_id]),
        reverse("dashboard"),
    ):
        assert re.search(
            r'<span class="badge text-bg-danger[^"]*" title="open queries">1</span>',
            client.get(page).content.decode(),
        ), page
    queries.answer_query(query=query, text="44 mm", by=coordinator)
    assert 'data-testid="field-query"' not in client.get(url(vas.visit)).content.decode()
