"""The end of study (a form of the participant's own): completed, or ended early for a reason,
with its date and the last contact. No visits or reminders follow; the dashboard shows it; a
death recorded here matches a fatal adverse event, and the reverse."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from enrollment import end_of_study
from enrollment.models import EndOfStudy
from safety import services as safety_services
from tests import helpers
from tests.helpers import form_url
from visits import reminders, selectors
from visits import services as visit_services
from visits.models import ReminderSent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("answers", "errors"),
    [
        ({"status": "completed", "reason": ""}, set()),
        ({"status": "completed", "reason": "death"}, {"reason"}),
        ({"status": "early_termination", "reason": ""}, {"reason"}),
        ({"status": "early_termination", "reason": "other", "detail": " "}, {"reason_detail"}),
        ({"status": "early_termination", "reason": "other", "detail": "moved abroad"}, set()),
        ({"status": "completed", "reason": "", "contact_after": True}, {"last_contact_on"}),
    ],
)
def test_the_forms_own_rules(answers, errors):
    day = helpers.site_now().date()
    found = end_of_study.errors(
        status=answers["status"],
        reason=answers["reason"],
        detail=answers.get("detail", ""),
        ended_on=day,
        last_contact_on=day + timedelta(days=1) if answers.get("contact_after") else day,
    )
    assert set(found) == errors


def test_a_coordinator_records_it_on_its_page_and_the_dashboard_shows_it(
    client, coordinator, arm_a
):
    client.force_login(coordinator)
    url = form_url("end_of_study", participant=arm_a)
    page = client.get(reverse("participant_detail", args=[arm_a.pk])).content.decode()
    assert f'href="{url}"' in page and "Record end of study" in page
    today = helpers.site_now().date()
    answers = {
        "version": 0,
        "status": "early_termination",
        "reason": "",
        "reason_detail": "",
        "ended_on": today.isoformat(),
        "last_contact_on": (today + timedelta(days=1)).isoformat(),
    }
    response = client.post(url, answers)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"reason", "last_contact_on"}
    assert not EndOfStudy.objects.exists()
    answers |= {"reason": "lost_to_follow_up", "last_contact_on": today.isoformat()}
    response = client.post(url, answers, follow=True)
    ended = EndOfStudy.objects.get(participant=arm_a)
    assert (ended.status, ended.reason, ended.site) == (
        "early_termination",
        "lost_to_follow_up",
        arm_a.site,
    )
    assert f"Ended early {today:%Y-%m-%d}: lost to follow-up" in response.content.decode()
    # A correction needs a reason, like every form.
    answers |= {"version": ended.version, "reason": "other", "reason_detail": "moved abroad"}
    response = client.post(url, answers)
    assert "reason_for_change" in response.context["form"].errors
    dashboard = client.get(reverse("dashboard"))
    (row,) = dashboard.context["rows"]
    assert [end.text for end in row.endings] == [ended.summary]
    # Visits left with nothing entered are not expected any more.
    statuses = dict(
        zip(dashboard.context["codes"], [c and c.status for c in row.visits], strict=True)
    )
    assert statuses["M0"] == statuses["M12"] == "ended"
    assert statuses["SCR"] != "ended"  # screening took place
    m12 = helpers.visit(arm_a, "M12")
    visit_page = client.get(reverse("visit_detail", args=[arm_a.pk, m12.pk]))
    assert visit_page.context["visit_cell"].status == "ended"  # the same on the visit's page


def test_no_visits_or_reminders_follow_it(coordinator, arm_a, arm_b):
    today = helpers.site_now().date()
    m0 = helpers.visit(arm_a, "M0")
    m0.window_opens = m0.window_closes = today - timedelta(days=3)
    m0.save(update_fields=["window_opens", "window_closes"])
    reminders.send_site_reminders(arm_a.site)
    assert any(arm_a.participant_id in m.body for m in mail.outbox)
    overdue, _, _ = selectors.due_visits(coordinator)
    assert m0 in overdue
    helpers.end_study(arm_a, coordinator, ended_on=today - timedelta(days=1))
    mail.outbox.clear()
    ReminderSent.objects.all().delete()  # each reminder is sent once: start again
    reminders.send_site_reminders(arm_a.site)
    assert not any(arm_a.participant_id in m.body for m in mail.outbox)
    overdue, upcoming, _ = selectors.due_visits(coordinator)
    assert all(v.participant_id != arm_a.pk for v in [*overdue, *upcoming])
    with pytest.raises(ValidationError, match="ended"):
        visit_services.add_unscheduled_visit(
            participant=arm_a, visit_date=today, reason="flare", by=coordinator
        )
    with pytest.raises(ValidationError, match="ended on"):
        visit_services.record_visit(visit=m0, visit_date=today, by=coordinator)
    # A visit on or before the end is still recorded (data collected before it).
    visit_services.record_visit(
        visit=m0, visit_date=today - timedelta(days=1), by=coordinator, reason="late entry"
    )


def test_a_death_matches_a_fatal_adverse_event_and_the_reverse(coordinator, arm_a, arm_b):
    with pytest.raises(ValidationError) as refused:
        helpers.end_study(arm_a, coordinator, reason="death")
    assert refused.value.message_dict["reason"] == [end_of_study.NEEDS_FATAL_AE]
    ae = safety_services.report_adverse_event(
        participant=arm_a,
        data=helpers.fatal_ae_answers(),
        by=coordinator,
    )
    # Fatal AE: the end of study must say death.
    with pytest.raises(ValidationError, match="must give death"):
        helpers.end_study(arm_a, coordinator, reason="adverse_event")
    ended = helpers.end_study(arm_a, coordinator, reason="death")
    assert ended.reason == "death"
    # The only fatal AE cannot stop being fatal while the end of study records a death.
    with pytest.raises(ValidationError) as refused:
        safety_services.update_adverse_event(
            ae=ae,
            data={"outcome": "recovered", "ongoing": False, "end_date": ae.onset_date},
            version=ae.version,
            reason="wrong outcome",
            by=coordinator,
        )
    assert "outcome" in refused.value.message_dict
    # A participant whose end of study gives another reason gets no fatal AE.
    helpers.end_study(arm_b, coordinator, reason="withdrawal_of_consent")
    with pytest.raises(ValidationError) as refused:
        safety_services.report_adverse_event(
            participant=arm_b,
            data=helpers.fatal_ae_answers(),
            by=coordinator,
        )
    assert "another reason than death" in refused.value.message_dict["outcome"][0]


def test_the_database_refuses_a_reason_with_completed_and_a_contact_after_the_end(
    coordinator, arm_a
):
    ended = helpers.end_study(arm_a, coordinator, status="completed", reason="")
    for change in (
        {"reason": "death"},
        {"last_contact_on": ended.ended_on + timedelta(days=1)},
        {"status": "early_termination"},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            EndOfStudy.objects.filter(pk=ended.pk).update(**change)
