"""The data-quality report (monitoring/quality.py): each check at and beside its limit, each
line linking to the record, the CSV download, and who may see it."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitoring import quality, queries
from monitoring.models import DataQuery
from monitoring.views import review
from outcomes.models import VasPain
from safety import services as safety_services
from tests import factories, helpers
from tests.helpers import add_vas, form_url
from trialsite import protocol
from trialsite.crf.services import save_crf
from visits import services as visit_services
from visits.models import Visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def late(lahore, coordinator):
    """A participant randomized 45 days ago: the windows of M0, W1 and M1 have closed."""
    return factories.participant_with_visits(
        site=lahore, by=coordinator, randomized_at=timezone.now() - timedelta(days=45)
    )


def of(user, check) -> list:
    return [f for f in quality.findings(user) if f.check == check]


def test_forms_missing_after_the_window_closed_but_not_at_a_missed_visit(
    data_manager, coordinator, late
):
    m0, m1, m3 = (Visit.objects.get(participant=late, code=c) for c in ("M0", "M1", "M3"))
    assert m1.window_closes < late.site.today() < m3.window_closes
    missing = {(f.visit, f.what) for f in of(data_manager, quality.MISSING)}
    assert {("M0", "VAS pain"), ("M0", "Injection procedure"), ("M1", "WOMAC")} <= missing
    assert not any(visit == "M3" for visit, _ in missing)  # its window is still open
    add_vas(late, "M1", 30, coordinator)
    visit_services.record_missed_visit(visit=m0, reason="travelling", by=coordinator)
    found = of(data_manager, quality.MISSING)
    missing = {(f.visit, f.what) for f in found}
    assert ("M1", "VAS pain") not in missing and ("M1", "WOMAC") in missing
    assert not any(visit == "M0" for visit, _ in missing)  # missed: not chased
    womac = next(f for f in found if (f.visit, f.what) == ("M1", "WOMAC"))
    assert womac.url == form_url("womac", visit=m1)
    assert womac.detail == f"window closed {m1.window_closes:%Y-%m-%d}"


def test_a_visit_held_outside_its_window_and_one_held_at_its_edges(data_manager, coordinator, late):
    m1 = Visit.objects.get(participant=late, code="M1")
    m0 = Visit.objects.get(participant=late, code="M0")
    visit_services.record_visit(visit=m0, visit_date=m0.window_closes, by=coordinator)  # edge
    visit_services.record_visit(
        visit=m1, visit_date=m1.window_closes + timedelta(days=1), by=coordinator
    )
    # (The factory screened this participant long before randomization: SCR is out too.)
    found = [f for f in of(data_manager, quality.WINDOW) if f.visit != "SCR"]
    assert [(f.visit, f.since) for f in found] == [("M1", m1.window_closes + timedelta(days=1))]
    assert found[0].url == reverse("visit_detail", args=[late.pk, m1.pk])


@pytest.mark.parametrize(("days", "reported"), [(13, False), (15, True)])
def test_a_form_incomplete_for_more_than_the_set_days(
    data_manager, coordinator, arm_a, days, reported
):
    assert protocol.INCOMPLETE_FORM_DAYS == 14
    vas = save_crf(
        crf_class=VasPain,
        visit=Visit.objects.get(participant=arm_a, code="M0"),
        data=helpers.vas_answers(),
        version=0,
        complete=False,
        by=coordinator,
    )
    VasPain.objects.filter(pk=vas.pk).update(modified_at=timezone.now() - timedelta(days=days))
    found = of(data_manager, quality.INCOMPLETE)
    assert bool(found) == reported
    if reported:
        assert (found[0].visit, found[0].what) == ("M0", "VAS pain")


@pytest.mark.parametrize(("days", "reported"), [(13, False), (15, True)])
def test_queries_open_for_more_than_the_set_days_and_unusual_values(
    data_manager, monitor, coordinator, vas, days, reported
):
    query = queries.raise_query(crf=vas, field="score_mm", question="Ruler?", by=monitor)
    soft = queries.raise_query(
        crf=vas, field="knee", question="Soft check: left?", by=coordinator, automatic=True
    )
    DataQuery.objects.filter(pk=query.pk).update(opened_at=timezone.now() - timedelta(days=days))
    old = of(data_manager, quality.QUERIES)
    assert [f.detail for f in old] == (["Ruler?"] if reported else [])
    unusual = of(data_manager, quality.UNUSUAL)
    assert [f.detail for f in unusual] == ["Soft check: left?"]
    assert unusual[0].url.endswith(f"#query-{soft.pk}")
    queries.close_query(query=soft, text="confirmed with source", by=monitor)
    assert of(data_manager, quality.UNUSUAL) == []


def test_the_page_lists_every_check_downloads_as_csv_and_is_for_data_managers(
    client, data_manager, coordinator, monitor, late, islamabad, outsider
):
    factories.participant_with_visits(
        site=islamabad, by=outsider, randomized_at=timezone.now() - timedelta(days=45)
    )
    client.force_login(data_manager)
    page = client.get(reverse("data_quality"))
    sections = page.context["sections"]
    assert [check for check, *_ in sections] == list(quality.CHECKS)
    lines = [f for _, _, found, _ in sections for f in found]
    assert lines and {f.participant_id for f in lines} == {late.participant_id}  # not ISB
    html = page.content.decode()
    assert 'id="missing"' in html and form_url("vas_pain", visit=late.visits.get(code="M0")) in html
    response = client.get(reverse("data_quality"), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Check", "Participant", "Visit", "What", "Detail", "Since", "Link"]
    assert len(rows) == len(lines) + 1
    assert rows[1][6].startswith("http://testserver/participants/")
    for user in (coordinator, monitor):
        client.force_login(user)
        assert client.get(reverse("data_quality")).status_code == 403


def test_the_report_reads_a_fixed_number_of_queries_whatever_the_number_of_records(
    data_manager, coordinator, lahore
):
    def incomplete_vas(participant):
        vas = save_crf(
            crf_class=VasPain,
            visit=Visit.objects.get(participant=participant, code="M0"),
            data=helpers.vas_answers(),
            version=0,
            complete=False,
            by=coordinator,
        )
        VasPain.objects.filter(pk=vas.pk).update(modified_at=timezone.now() - timedelta(days=30))

    incomplete_vas(factories.participant_with_visits(site=lahore, by=coordinator))
    quality.findings(data_manager)  # the user's sites and permissions, read once
    with CaptureQueriesContext(connection) as one:
        assert len(of(data_manager, quality.INCOMPLETE)) == 1
    for _ in range(3):
        incomplete_vas(factories.participant_with_visits(site=lahore, by=coordinator))
    with CaptureQueriesContext(connection) as four:
        assert len(of(data_manager, quality.INCOMPLETE)) == 4
    assert len(four) == len(one)


def test_visits_after_the_end_of_study_are_not_chased(data_manager, coordinator, late):
    m0, m1 = (Visit.objects.get(participant=late, code=c) for c in ("M0", "M1"))
    assert {"M0", "M1"} <= {f.visit for f in of(data_manager, quality.MISSING)}
    helpers.end_study(late, coordinator, ended_on=m1.window_closes - timedelta(days=1))
    chased = {f.visit for f in of(data_manager, quality.MISSING)}
    assert "M0" in chased and "M1" not in chased  # M0's window closed before the end


def test_a_fatal_adverse_event_is_listed_until_the_end_of_study_gives_death(
    data_manager, coordinator, arm_a
):
    ae = safety_services.report_adverse_event(
        participant=arm_a, data=helpers.fatal_ae_answers(), by=coordinator
    )
    (finding,) = of(data_manager, quality.DEATH)
    assert (finding.participant_id, finding.what) == (arm_a.participant_id, "Adverse event 1")
    assert finding.url == reverse("ae_detail", args=[ae.pk])
    helpers.end_study(arm_a, coordinator, reason="death")
    assert of(data_manager, quality.DEATH) == []


def test_the_page_shows_the_first_findings_of_each_check_and_the_csv_all_of_one(
    client, data_manager, late, monkeypatch
):
    monkeypatch.setattr(review, "QUALITY_LINES", 2)
    every = of(data_manager, quality.MISSING)
    assert len(every) > 2
    client.force_login(data_manager)
    page = client.get(reverse("data_quality"))
    (missing,) = [s for s in page.context["sections"] if s[0] == quality.MISSING]
    assert missing[2] == every[:2] and missing[3] == len(every)
    assert f"The first 2 of {len(every)}." in page.content.decode()
    response = client.get(reverse("data_quality"), {"format": "csv", "check": quality.MISSING})
    rows = list(csv.reader(io.StringIO(response.content.decode())))[1:]
    assert [(r[1], r[2], r[3]) for r in rows] == [
        (f.participant_id, f.visit, f.what) for f in every
    ]
    assert {r[0] for r in rows} == {quality.CHECKS[quality.MISSING]}
    assert quality.counts(data_manager)[quality.MISSING] == len(every)
