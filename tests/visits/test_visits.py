"""Visits: windows from randomization and M0, deviations, missed and unscheduled visits, pages."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from enrollment import services as enrollment_services
from tests import factories
from tests.helpers import inject, visit
from visits import schedule, services
from visits.models import Deviation, Visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def participant(lahore, coordinator):
    return factories.participant_with_visits(site=lahore, arm="A", by=coordinator)


@pytest.fixture
def lot(coordinator, investigator):
    return factories.released_lot(by=coordinator, releaser=investigator)


def test_visits_are_created_at_randomization_with_provisional_windows(participant):
    randomized = timezone.localtime(participant.randomized_at, participant.site.zone).date()
    visits = list(Visit.objects.filter(participant=participant))
    assert [v.code for v in visits] == list(schedule.VISIT_DEFS)
    m3 = visit(participant, "M3")
    assert m3.target_date == randomized + timedelta(days=90)
    assert (m3.window_opens, m3.window_closes) == (
        m3.target_date - timedelta(days=14),
        m3.target_date + timedelta(days=14),
    )


def test_the_m0_injection_date_moves_every_window_and_a_correction_moves_them_again(
    participant, lot, coordinator
):
    today = timezone.localdate()
    first = today - timedelta(days=20)
    injection = inject(participant, lot, first, coordinator)
    assert visit(participant, "M1").target_date == first + timedelta(days=30)
    assert visit(participant, "M0").visit_date == first
    corrected = today - timedelta(days=18)
    inject(participant, lot, corrected, coordinator, version=injection.version)
    assert visit(participant, "M1").target_date == corrected + timedelta(days=30)
    assert visit(participant, "M12").window_closes == corrected + timedelta(days=365 + 21)
    assert visit(participant, "M0").visit_date == corrected


def test_a_visit_in_its_window_records_no_deviation(participant, lot, coordinator):
    m0 = timezone.localdate() - timedelta(days=9)
    inject(participant, lot, m0, coordinator)
    services.record_visit(
        visit=visit(participant, "W1"), visit_date=m0 + timedelta(days=4), by=coordinator
    )
    assert not Deviation.objects.filter(category="visit_window").exists()


def test_a_visit_outside_its_window_is_accepted_as_a_deviation(participant, lot, coordinator):
    m0 = timezone.localdate() - timedelta(days=12)
    inject(participant, lot, m0, coordinator)
    w1 = services.record_visit(
        visit=visit(participant, "W1"), visit_date=m0 + timedelta(days=11), by=coordinator
    )
    assert w1.visit_date == m0 + timedelta(days=11)
    deviation = Deviation.objects.get(category="visit_window")
    assert deviation.visit == w1 and "1 day(s) after its window" in deviation.description


def test_a_future_visit_date_is_refused(participant, coordinator):
    with pytest.raises(ValidationError):
        services.record_visit(
            visit=visit(participant, "M1"),
            visit_date=timezone.localdate() + timedelta(days=2),
            by=coordinator,
        )
    assert visit(participant, "M1").visit_date is None


def test_a_missed_visit_needs_a_reason(participant, coordinator):
    with pytest.raises(ValidationError):
        services.record_missed_visit(visit=visit(participant, "M1"), reason=" ", by=coordinator)
    services.record_missed_visit(
        visit=visit(participant, "M1"), reason="travelling", by=coordinator
    )
    m1 = visit(participant, "M1")
    assert m1.status_on(timezone.localdate()) == schedule.Status.MISSED


def test_unscheduled_visits_are_numbered(participant, coordinator):
    today = timezone.localdate()
    first = services.add_unscheduled_visit(
        participant=participant, visit_date=today, reason="knee swelling", by=coordinator
    )
    second = services.add_unscheduled_visit(
        participant=participant, visit_date=today, reason="follow-up", by=coordinator
    )
    assert (first.code, first.sequence, second.sequence) == (schedule.UNSCHEDULED, 1, 2)


def test_a_withdrawn_participant_gets_no_new_visits(participant, coordinator):
    enrollment_services.withdraw_consent(
        consent=participant.screening.consent,
        withdrawn_on=timezone.localdate(),
        data_use_allowed=True,
        note="",
        by=coordinator,
    )
    participant.screening.consent.refresh_from_db()
    with pytest.raises(ValidationError, match="withdrawn"):
        services.add_unscheduled_visit(
            participant=participant, visit_date=timezone.localdate(), reason="x", by=coordinator
        )


def test_the_visit_page_records_a_date_and_shows_errors_next_to_the_field(
    client, coordinator, participant
):
    client.force_login(coordinator)
    url = reverse("visit_detail", args=[participant.pk, visit(participant, "M1").pk])
    response = client.post(url, {"visit_date": "not a date"})
    assert response.status_code == 400
    assert response.context["date_form"].errors["visit_date"]
    response = client.post(url, {"visit_date": timezone.localdate().isoformat()})
    assert response.status_code == 302
    assert visit(participant, "M1").visit_date == timezone.localdate()


def test_the_visit_page_refuses_roles_that_cannot_change_visits(client, monitor, participant):
    client.force_login(monitor)
    url = reverse("visit_detail", args=[participant.pk, visit(participant, "M1").pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"visit_date": timezone.localdate().isoformat()}).status_code == 403
    assert visit(participant, "M1").visit_date is None


def test_the_calendar_lists_the_next_14_days_and_overdue_visits(
    client, coordinator, lahore, islamabad, outsider, lot
):
    today = timezone.localdate()
    due = factories.participant_with_visits(site=lahore, by=coordinator)
    inject(due, lot, today - timedelta(days=25), coordinator)  # M1 window opens on day 23
    late = factories.participant_with_visits(site=lahore, by=coordinator)
    inject(late, lot, today - timedelta(days=15), coordinator)  # W1 closed on day 10
    factories.participant_with_visits(site=islamabad, by=outsider)  # another site
    client.force_login(coordinator)
    context = client.get(reverse("visit_calendar")).context
    upcoming = {(v.participant, v.code) for v in context["upcoming"].rows}
    overdue = {(v.participant, v.code) for v in context["overdue"].rows}
    assert (due, "M1") in upcoming
    assert (late, "W1") in overdue
    assert (late, "M1") in upcoming
    shown = context["upcoming"].rows + context["overdue"].rows
    assert all(v.participant.site == lahore for v in shown)
    horizon = today + timedelta(days=14)
    assert all(v.window_opens <= horizon for v in context["upcoming"].rows)


def test_the_timeline_shows_windows_status_and_crfs_due(client, coordinator, participant, lot):
    inject(participant, lot, timezone.localdate() - timedelta(days=5), coordinator)
    client.force_login(coordinator)
    response = client.get(reverse("participant_detail", args=[participant.pk]))
    statuses = {
        v.code: v.status_on(response.context["today"]) for v, _, _ in response.context["timeline"]
    }
    assert statuses["SCR"] == statuses["M0"] == schedule.Status.COMPLETED
    assert statuses["W1"] == schedule.Status.WINDOW_OPEN
    assert statuses["M1"] == schedule.Status.SCHEDULED
    timeline = {v.code: crfs for v, crfs, _ in response.context["timeline"]}
    data = {v.code: cell.status for v, _, cell in response.context["timeline"]}
    assert data["M0"] == "incomplete" and data["W1"] == "not_started"  # from the forms
    titles = [link.title for link in timeline["M0"]]
    assert "Injection procedure" in titles and "VAS pain" in titles
    assert "PRGF preparation" not in titles  # arm A
    html = response.content.decode()
    assert "Completed" in html and "Window open" in html
