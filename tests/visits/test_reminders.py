"""Visit reminders: a real Celery worker on Redis, Django's e-mail outbox, exactly once."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db import connections
from django.utils import timezone

from enrollment import services as enrollment_services
from tests import factories, helpers
from tests.helpers import inject, visit
from trialsite.celery import app
from visits import reminders, services, tasks
from visits.models import ReminderSent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def trial(lahore, coordinator, investigator):
    """Three participants: one whose M1 window opens soon, one overdue, one withdrawn."""
    lot = factories.released_lot(by=coordinator, releaser=investigator)
    today = timezone.localdate()
    soon = factories.participant_with_visits(site=lahore, by=coordinator)
    # M1 opens on day 23: two days from now, within VISIT_REMINDER_DAYS_AHEAD.
    inject(soon, lot, today - timedelta(days=21), coordinator)
    services.record_visit(visit=visit(soon, "W1"), visit_date=today - timedelta(14), by=coordinator)
    late = factories.participant_with_visits(site=lahore, by=coordinator)
    inject(late, lot, today - timedelta(days=12), coordinator)  # W1 closed on day 10
    gone = factories.participant_with_visits(site=lahore, by=coordinator)
    inject(gone, lot, today - timedelta(days=12), coordinator)
    enrollment_services.withdraw_consent(
        consent=gone.screening.consent,
        withdrawn_on=today,
        data_use_allowed=True,
        note="moved away",
        by=coordinator,
    )
    return {"soon": soon, "late": late, "gone": gone}


def test_reminder_window_is_a_setting():
    assert settings.VISIT_REMINDER_DAYS_AHEAD == 3


def test_the_task_runs_in_a_real_worker_and_sends_each_reminder_once(worker, trial, coordinator):
    assert tasks.send_visit_reminders.delay().get(timeout=60) == 2
    assert tasks.send_visit_reminders.delay().get(timeout=60) == 0  # a second run sends nothing
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [coordinator.email]
    soon, late, gone = trial["soon"], trial["late"], trial["gone"]
    m1 = visit(soon, "M1")
    assert f"{soon.participant_id} M1 (Month 1): window {m1.window_opens:%Y-%m-%d}" in message.body
    assert f"{late.participant_id} W1 (Week 1 safety call) is OVERDUE" in message.body
    assert gone.participant_id not in message.body  # withdrawn: no reminders
    assert set(ReminderSent.objects.values_list("visit__participant", "kind")) == {
        (soon.pk, "window_opening"),
        (late.pk, "overdue"),
    }


def test_two_workers_at_once_send_each_reminder_once(trial):
    barrier = threading.Barrier(2)
    counts = []

    def run():
        try:
            barrier.wait(timeout=30)
            counts.append(reminders.send_visit_reminders())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(counts) == [0, 2]
    assert len(mail.outbox) == 1
    assert ReminderSent.objects.count() == 2


def test_the_text_is_computed_when_sent(worker, trial, coordinator):
    # The overdue visit takes place after the reminder was scheduled but before it is sent.
    services.record_visit(
        visit=visit(trial["late"], "W1"), visit_date=timezone.localdate(), by=coordinator
    )
    assert tasks.send_visit_reminders.delay().get(timeout=60) == 1
    assert "OVERDUE" not in mail.outbox[0].body


def test_a_failed_send_claims_nothing_and_is_retried_next_run(trial, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("SMTP server unreachable")

    monkeypatch.setattr(reminders, "send_mail", broken)
    with pytest.raises(OSError):
        reminders.send_visit_reminders()
    assert not ReminderSent.objects.exists()
    monkeypatch.undo()
    assert reminders.send_visit_reminders() == 2
    assert len(mail.outbox) == 1


def test_a_daily_beat_entry_runs_the_task():
    entry = settings.CELERY_BEAT_SCHEDULE["visit-reminders"]
    assert entry["task"] == tasks.send_visit_reminders.name
    assert app.conf.beat_schedule["visit-reminders"]["task"] == "visits.tasks.send_visit_reminders"


def test_200_reminders_due_are_sent_once_each_by_workers_running_at_once(
    worker_processes, lahore, coordinator
):
    """Two worker processes of two processes each; the daily task delivered four times at once
    (beat restarted, a task given again after a worker was lost)."""
    today = timezone.localdate()
    for _ in range(200):
        factories.VisitFactory(
            participant=factories.ParticipantFactory(site=lahore, randomized_by=coordinator),
            code="M1",
            target_date=today + timedelta(days=2),
            window_opens=today + timedelta(days=1),
            window_closes=today + timedelta(days=8),
        )
    for _ in range(2):
        worker_processes(concurrency=2)
    results = [tasks.send_visit_reminders.delay() for _ in range(4)]
    assert sum(result.get(timeout=180) for result in results) == 200

    lines = [
        line
        for message in helpers.mail_files(worker_processes.mail)
        for line in message.get_payload(decode=True).decode().splitlines()
        if line.startswith("- ")
    ]
    assert len(lines) == len(set(lines)) == 200
    assert ReminderSent.objects.count() == 200
    assert ReminderSent.objects.values("visit").distinct().count() == 200
