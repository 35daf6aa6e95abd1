"""The protocol deviations register (a log form of the participant): deviations the system
detects are recorded once each; coordinators add the others; a listing with filters and CSV;
a section of the casebook."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from monitoring.demo import prgf_answers
from tests import factories, helpers
from tests.helpers import form_url
from trialsite import protocol, roles
from visits import services as visit_services
from visits.models import Deviation

pytestmark = pytest.mark.django_db


def test_a_late_visit_is_recorded_once_with_the_protocols_severity(coordinator, arm_a):
    m1 = helpers.visit(arm_a, "M1")
    late = m1.window_closes + timedelta(days=2)
    if late > arm_a.site.today():
        late = arm_a.site.today()
        m1.window_closes = late - timedelta(days=2)
        m1.window_opens = min(m1.window_opens, m1.window_closes)  # a window opens before it closes
        m1.save(update_fields=["window_opens", "window_closes"])
    for _ in range(2):
        visit_services.record_visit(visit=m1, visit_date=late, by=coordinator, reason="moved")
    deviation = Deviation.objects.get(participant=arm_a)
    assert (deviation.number, deviation.category, deviation.severity, deviation.visit) == (
        1,
        "visit_window",
        protocol.DEVIATION_SEVERITY["visit_window"],
        m1,
    )
    assert deviation.detected_from == f"visit_window:visit {m1.pk}"
    assert deviation.created_by == coordinator
    # The database holds it to one, whatever the path.
    with pytest.raises(IntegrityError), transaction.atomic():
        Deviation.objects.create(
            participant=arm_a,
            site=arm_a.site,
            number=2,
            category="visit_window",
            severity="minor",
            description="again",
            occurred_on=late,
            detected_from=deviation.detected_from,
            created_by=coordinator,
            modified_by=coordinator,
        )


def test_one_save_of_the_injection_page_that_finds_two_deviations_records_both(
    client, coordinator, investigator, arm_b
):
    """A dose off the protocol's and PRGF drawn too long before, found by one save of the
    page: both recorded. (Each takes the participant's lock; reading the participant's row
    for it twice in one request was once a server error where N+1 queries raise.)"""
    lot = factories.released_lot(by=coordinator, releaser=investigator)
    m0 = helpers.visit(arm_b, "M0")
    injected = helpers.earlier_today()
    late = timedelta(minutes=protocol.PRGF_MAX_MINUTES_DRAW_TO_INJECTION + 30)
    visit_services.record_prgf_preparation(
        visit=m0,
        data=prgf_answers(drawn=injected - late, operator=coordinator, checker=investigator),
        version=0,
        complete=True,
        by=coordinator,
    )
    client.force_login(coordinator)
    post = {
        "version": 0,
        "injected_at": f"{injected:%Y-%m-%dT%H:%M}",
        "knee": "R",
        "ultrasound_guided": "yes",
        "approach": "superolateral",
        "needle_gauge": "21",
        "aspiration_done": "no",
        "secretome_lot": lot.pk,
        "secretome_volume_ml": "1.5",
        "prgf_volume_ml": str(protocol.ARM_B.prgf_ml),
        "deviation_reason": "The syringe leaked",
        "mark_complete": "on",
    }
    assert client.post(form_url("injection", visit=m0), post).status_code == 302
    found = Deviation.objects.filter(participant=arm_b).order_by("number")
    assert [d.detected_from for d in found] == [
        f"dose_volume:visit {m0.pk}",
        f"prgf_time:visit {m0.pk}",
    ]


def test_a_coordinator_records_one_and_completes_a_detected_one(client, coordinator, arm_a):
    client.force_login(coordinator)
    url = form_url("deviation", participant=arm_a)
    today = helpers.site_now().date()
    answers = {
        "version": 0,
        "category": "consent",
        "occurred_on": today.isoformat(),
        "description": "Consent form version 0.9 used.",
        "severity": "major",
        "reported_to_ethics_on": (today - timedelta(days=1)).isoformat(),
        "corrective_action": "",
    }
    response = client.post(url, answers)
    assert response.status_code == 400
    assert response.context["form"].errors["reported_to_ethics_on"] == [
        "It cannot be reported before it occurred."
    ]
    assert response.context["form"]["description"].value() == "Consent form version 0.9 used."
    answers["reported_to_ethics_on"] = today.isoformat()
    response = client.post(url, answers, follow=True)
    deviation = Deviation.objects.get(participant=arm_a)
    assert (deviation.number, deviation.category, deviation.detected_from) == (1, "consent", "")
    assert "Protocol deviation 1 recorded." in response.content.decode()
    # The database refuses a report dated before the deviation, whatever the path.
    with pytest.raises(IntegrityError), transaction.atomic():
        Deviation.objects.filter(pk=deviation.pk).update(
            reported_to_ethics_on=today - timedelta(days=3)
        )
    # Participant page: in the register, with its link.
    page = client.get(reverse("participant_detail", args=[arm_a.pk])).content.decode()
    assert "Protocol deviations" in page and "Consent, major" in page


def test_the_listing_filters_in_the_database_and_its_csv_holds_the_same_rows(
    client, monitor, coordinator, arm_a, arm_b
):
    today = helpers.site_now().date()
    helpers.add_deviation(arm_a, coordinator, category="procedure", severity="minor")
    helpers.add_deviation(
        arm_b,
        coordinator,
        category="eligibility",
        severity="major",
        description='=HYPERLINK("http://x")',
        reported_to_ethics_on=today,
    )
    client.force_login(monitor)
    url = reverse("deviation_listing")
    rows = client.get(url).context["rows"]
    assert {d.participant_id for d, _ in rows} == {arm_a.pk, arm_b.pk}
    for query, expected in (
        ({"severity": "major"}, {arm_b.pk}),
        ({"category": "procedure"}, {arm_a.pk}),
        ({"reported": "no"}, {arm_a.pk}),
        ({"participant": arm_b.participant_id}, {arm_b.pk}),
        ({"occurred_from": (today + timedelta(days=1)).isoformat()}, set()),
    ):
        found = client.get(url, query).context["rows"]
        assert {d.participant_id for d, _ in found} == expected, query
    response = client.get(url, {"severity": "major", "format": "csv"})
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["participant_id"], r["category"], r["severity_label"]) for r in table] == [
        (arm_b.participant_id, "eligibility", "Major")
    ]
    assert table[0]["description"].startswith("'=")  # neutralised for spreadsheets


def test_users_who_may_not_see_the_arm_do_not_get_the_register(client, lahore, arm_a):
    """Dose deviations name the PRGF volume, which tells the arm."""
    blinded = factories.UserFactory(
        username="assessor", role=roles.MONITOR, sites=[lahore], is_blinded_assessor=True
    )
    client.force_login(blinded)
    assert client.get(reverse("deviation_listing")).status_code == 403
    assert client.get(form_url("deviation", participant=arm_a)).status_code == 403


def test_the_casebook_has_a_section_of_deviations(
    monitor, coordinator, arm_a, django_capture_on_commit_callbacks
):
    helpers.add_deviation(arm_a, coordinator, description="Fasting sample not taken.")
    document = helpers.make_document(
        "casebook", {"participant": arm_a.pk}, monitor, django_capture_on_commit_callbacks
    )
    assert document.status == "ready", document.error
    text = " ".join(helpers.pdf_text(document).split())
    assert "Protocol deviations" in text
    assert "Fasting sample not taken." in text
