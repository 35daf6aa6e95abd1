"""Adverse events: rules, SAE e-mails through a real Celery worker, clocks and signatures."""

from datetime import UTC as utc
from datetime import date, datetime, time, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from enrollment.models import Consent
from safety import grading, services
from safety.models import AdverseEvent, SaeNotification
from safety.tasks import notify_sae
from tests import factories
from tests.helpers import SERIOUS, ae_answers, wait_for
from trialsite import protocol
from trialsite.crf.services import CrfConflict, ReasonRequired

CONSENT = date(2026, 1, 10)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"onset_date": CONSENT - timedelta(days=1)}, "onset_date"),
        (
            {
                "ongoing": False,
                "end_date": CONSENT + timedelta(days=1),
                "onset_date": CONSENT + timedelta(days=2),
            },
            "end_date",
        ),
        ({"ongoing": True, "end_date": CONSENT + timedelta(days=5)}, "end_date"),
        ({"ongoing": False, "end_date": None}, "end_date"),
        ({"grade": 5, "outcome": "recovered"}, "outcome"),
        ({"grade": 4, "outcome": "fatal", "serious": True, "death": True}, "grade"),
        (
            {
                "grade": 5,
                "outcome": "fatal",
                "serious": True,
                "death": False,
                "medically_important": True,
            },
            "death",
        ),
        ({"serious": True}, "serious"),
        ({"hospitalisation": True}, "serious"),
        ({"serious": True, "hospitalisation": True, "awareness_at": None}, "awareness_at"),
    ],
)
def test_each_rule_refuses_its_case(overrides, field):
    base = ae_answers(onset_date=CONSENT + timedelta(days=3))
    if overrides.get("serious") and "awareness_at" not in overrides:
        base["awareness_at"] = datetime(2026, 1, 14, 9, tzinfo=utc)
    errors = grading.check({**base, **overrides}, consent_date=CONSENT)
    assert field in errors


def test_a_valid_event_passes_every_rule():
    assert grading.check(ae_answers(onset_date=CONSENT), consent_date=CONSENT) == {}
    fatal = ae_answers(
        onset_date=CONSENT,
        grade=5,
        outcome="fatal",
        serious=True,
        death=True,
        awareness_at=datetime(2026, 1, 14, tzinfo=utc),
        ongoing=False,
        end_date=CONSENT,
    )
    assert grading.check(fatal, consent_date=CONSENT) == {}


def test_clocks():
    aware = datetime(2026, 3, 1, 8, 0, tzinfo=utc)
    sae = grading.sae_clock(aware)
    assert sae.due == aware + protocol.SAE_REPORT_WITHIN == datetime(2026, 3, 2, 8, 0, tzinfo=utc)
    assert not sae.overdue(sae.due) and sae.overdue(sae.due + timedelta(seconds=1))
    assert grading.susar_clock(aware, fatal_or_life_threatening=True).due == aware + timedelta(
        days=7
    )
    assert grading.susar_clock(aware, fatal_or_life_threatening=False).due == aware + timedelta(
        days=15
    )


@pytest.mark.parametrize(
    ("serious", "related", "expected", "susar"),
    [
        (True, True, False, True),
        (True, True, True, False),
        (True, False, False, False),
        (False, True, False, False),
    ],
)
def test_susar(serious, related, expected, susar):
    assert grading.is_susar(serious=serious, related=related, expected=expected) is susar


# --- Services -----------------------------------------------------------------------------------
def aware():
    return timezone.now() - timedelta(hours=1)


@pytest.mark.django_db
def test_events_are_numbered_per_participant(arm_a, coordinator):
    first = services.report_adverse_event(participant=arm_a, data=ae_answers(), by=coordinator)
    second = services.report_adverse_event(participant=arm_a, data=ae_answers(), by=coordinator)
    assert (first.number, second.number) == (1, 2)
    assert first.created_by == coordinator and first.site == arm_a.site


@pytest.mark.django_db
def test_onset_before_consent_is_refused(arm_a, coordinator):
    consent_day = timezone.localdate(arm_a.screening.consent.consented_at)
    with pytest.raises(ValidationError) as error:
        services.report_adverse_event(
            participant=arm_a,
            data=ae_answers(onset_date=consent_day - timedelta(days=1)),
            by=coordinator,
        )
    assert "onset_date" in error.value.message_dict
    assert not AdverseEvent.objects.exists()


@pytest.mark.django_db
def test_prgf_relationship_only_in_arm_b(arm_a, arm_b, coordinator):
    with pytest.raises(ValidationError, match="no PRGF"):
        services.report_adverse_event(
            participant=arm_a, data=ae_answers(relationship_prgf="possible"), by=coordinator
        )
    with pytest.raises(ValidationError, match="relationship to PRGF"):
        services.report_adverse_event(participant=arm_b, data=ae_answers(), by=coordinator)
    ae = services.report_adverse_event(
        participant=arm_b, data=ae_answers(relationship_prgf="unlikely"), by=coordinator
    )
    assert ae.relationship_prgf == "unlikely"


@pytest.mark.django_db
def test_the_database_refuses_grade_5_without_a_fatal_outcome(arm_a, coordinator):
    ae = services.report_adverse_event(participant=arm_a, data=ae_answers(), by=coordinator)
    with pytest.raises(IntegrityError), transaction.atomic():
        AdverseEvent.objects.filter(pk=ae.pk).update(grade=5)


@pytest.mark.django_db
def test_signing_needs_the_investigators_password_and_a_change_voids_it(
    arm_a, coordinator, investigator
):
    ae = services.report_adverse_event(participant=arm_a, data=ae_answers(), by=coordinator)
    confirmed = {
        "relationship_secretome": "probable",
        "relationship_procedure": "probable",
        "expected_reaction": "",
    }
    with pytest.raises(PermissionDenied):
        services.sign_adverse_event(
            ae=ae,
            password=factories.PASSWORD,
            confirmed=confirmed,
            version=ae.version,
            by=coordinator,
        )
    with pytest.raises(ValidationError, match="password is not correct"):
        services.sign_adverse_event(
            ae=ae, password="wrong", confirmed=confirmed, version=ae.version, by=investigator
        )
    signed = services.sign_adverse_event(
        ae=ae, password=factories.PASSWORD, confirmed=confirmed, version=ae.version, by=investigator
    )
    assert signed.is_signed and signed.signed_by == investigator
    assert signed.signature_meaning == services.SIGNATURE_MEANING
    assert signed.relationship_secretome == "probable" and not signed.expected
    assert not AdverseEvent.objects.awaiting_review().exists()

    changed = services.update_adverse_event(
        ae=signed,
        data=ae_answers(grade=2),
        version=signed.version,
        reason="worse at follow-up",
        by=coordinator,
    )
    assert not changed.is_signed and changed.signed_by is None
    assert list(AdverseEvent.objects.awaiting_review()) == [changed]


@pytest.mark.django_db
def test_an_update_needs_a_reason_and_fresh_data(arm_a, coordinator):
    ae = services.report_adverse_event(participant=arm_a, data=ae_answers(), by=coordinator)
    with pytest.raises(ReasonRequired):
        services.update_adverse_event(
            ae=ae, data=ae_answers(grade=2), version=ae.version, reason="", by=coordinator
        )
    services.update_adverse_event(
        ae=ae, data=ae_answers(grade=2), version=ae.version, reason="x", by=coordinator
    )
    with pytest.raises(CrfConflict):
        services.update_adverse_event(
            ae=ae, data=ae_answers(grade=3), version=ae.version, reason="y", by=coordinator
        )


# --- SAE e-mails ---------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_serious_event_emails_investigators_and_safety_contacts_once(
    worker, arm_a, coordinator, investigator, settings
):
    settings.SAFETY_CONTACTS = ["pharmacovigilance@example.org"]
    ae = services.report_adverse_event(
        participant=arm_a, data=ae_answers(**SERIOUS, awareness_at=aware()), by=coordinator
    )
    assert wait_for(lambda: len(mail.outbox) == 1)
    message = mail.outbox[0]
    assert set(message.to) == {investigator.email, "pharmacovigilance@example.org"}
    assert f"{arm_a.participant_id} AE 1: Knee swelling" in message.subject
    assert "due by" in message.body
    # Queued again (a retry, a second worker): nothing more is sent.
    assert notify_sae.delay(ae.pk).get(timeout=30) is False
    assert len(mail.outbox) == 1
    assert SaeNotification.objects.filter(adverse_event=ae).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_sae_email_is_retried_and_sent_exactly_once(
    worker, arm_a, coordinator, investigator, settings, monkeypatch
):
    settings.SAE_NOTIFY_RETRY_SECONDS = 0.2
    real_send = services.send_mail
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("mail server unreachable")
        return real_send(*args, **kwargs)

    monkeypatch.setattr(services, "send_mail", flaky)
    services.report_adverse_event(
        participant=arm_a, data=ae_answers(**SERIOUS, awareness_at=aware()), by=coordinator
    )
    assert wait_for(lambda: len(mail.outbox) == 1)
    assert len(calls) == 2  # failed once, retried once
    assert SaeNotification.objects.count() == 1
    wait_for(lambda: False, seconds=1)  # no late duplicate
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_making_an_event_serious_later_sends_the_email(worker, arm_a, coordinator, investigator):
    ae = services.report_adverse_event(participant=arm_a, data=ae_answers(), by=coordinator)
    services.update_adverse_event(
        ae=ae,
        data=ae_answers(**SERIOUS, awareness_at=aware()),
        version=ae.version,
        reason="admitted",
        by=coordinator,
    )
    assert wait_for(lambda: len(mail.outbox) == 1)


@pytest.mark.django_db
def test_an_overdue_sae_is_escalated_once_and_a_signed_one_not(arm_a, coordinator, investigator):
    late = services.report_adverse_event(
        participant=arm_a,
        data=ae_answers(**SERIOUS, awareness_at=timezone.now() - timedelta(hours=25)),
        by=coordinator,
    )
    services.report_adverse_event(
        participant=arm_a,
        data=ae_answers(**SERIOUS, awareness_at=timezone.now() - timedelta(hours=2)),
        by=coordinator,
    )
    assert late.sae_overdue()
    assert services.escalate_overdue_saes() == 1
    assert services.escalate_overdue_saes() == 0
    assert "OVERDUE" in mail.outbox[-1].subject
    assert SaeNotification.objects.filter(kind="escalation").count() == 1


# --- Clocks are elapsed time, and "today" is the site's (issue 15, point 3) ------------------
@pytest.mark.parametrize(
    ("zone", "awareness"),
    [
        # The evening before clocks go forward, and before they go back (site-local times).
        ("Europe/London", (2026, 3, 28, 20, 0)),
        ("Europe/London", (2026, 10, 24, 20, 0)),
        ("America/New_York", (2026, 3, 7, 23, 30)),
        ("Asia/Karachi", (2026, 3, 28, 20, 0)),  # no daylight saving
    ],
)
def test_sae_and_susar_clocks_count_elapsed_time_across_daylight_saving(zone, awareness):
    aware = datetime(*awareness, tzinfo=ZoneInfo(zone))
    for clock, within in [
        (grading.sae_clock(aware), protocol.SAE_REPORT_WITHIN),
        (
            grading.susar_clock(aware, fatal_or_life_threatening=True),
            protocol.SUSAR_FATAL_OR_LIFE_THREATENING_WITHIN,
        ),
        (grading.susar_clock(aware, fatal_or_life_threatening=False), protocol.SUSAR_OTHER_WITHIN),
    ]:
        elapsed = clock.due.timestamp() - aware.timestamp()
        assert elapsed == within.total_seconds()
        assert clock.overdue(clock.due + timedelta(seconds=1))
        assert not clock.overdue(clock.due)


def test_a_sites_today_is_its_own_whatever_the_active_zone(db):
    site = factories.SiteFactory(code="KIR", time_zone="Pacific/Kiritimati")  # UTC+14
    late_utc = datetime(2026, 6, 1, 12, 0, tzinfo=utc)  # already 2 June at the site
    with mock.patch("django.utils.timezone.now", return_value=late_utc):
        for active in ("UTC", "America/Los_Angeles", "Asia/Karachi"):
            with timezone.override(ZoneInfo(active)):
                assert site.today() == date(2026, 6, 2)
                assert site.local_date(late_utc) == date(2026, 6, 2)


def test_onset_before_consent_is_judged_on_the_sites_calendar_in_a_task_too(coordinator):
    """Consent at 22:00 UTC on 10 March is 03:00 on 11 March in Lahore: an onset on 10 March
    is before consent there, in a request or in a task (whose zone is UTC)."""
    site = factories.SiteFactory(code="LHR", time_zone="Asia/Karachi")
    participant = factories.ParticipantFactory(site=site)
    consent = participant.screening.consent
    Consent.objects.filter(pk=consent.pk).update(
        consented_at=datetime(2026, 3, 10, 22, 0, tzinfo=utc)
    )
    participant.screening.consent.refresh_from_db()
    with timezone.override(utc), pytest.raises(ValidationError) as refused:
        services.report_adverse_event(
            participant=participant,
            data=ae_answers(onset_date=date(2026, 3, 10), relationship_prgf=None),
            by=coordinator,
        )
    assert "before informed consent (2026-03-11)" in str(refused.value)


# --- Consistent records, at each edge (issue 15, point 4; domain.md 6.1, 6.3) ----------------
KARACHI = ZoneInfo("Asia/Karachi")
ONSET = CONSENT + timedelta(days=2)


def _event(**overrides) -> dict:
    return {**ae_answers(onset_date=ONSET, outcome="recovering", ongoing=True), **overrides}


def _resolved(outcome, end):
    return _event(outcome=outcome, ongoing=end is None, end_date=end)


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        # Outcome and end date.
        (_resolved("recovered", ONSET), None),
        (_resolved("recovered", None), "end_date"),
        (_resolved("sequelae", ONSET + timedelta(days=1)), None),
        (_resolved("sequelae", None), "end_date"),
        (_resolved("not_recovered", None), None),
        (_resolved("not_recovered", ONSET), "end_date"),
        (_resolved("recovering", ONSET), "end_date"),
        (_event(outcome="recovered", ongoing=True, end_date=None), "ongoing"),
        # End against onset, onset against consent (the site's day).
        (_resolved("recovered", ONSET - timedelta(days=1)), "end_date"),
        (_event(onset_date=CONSENT), None),
        (_event(onset_date=CONSENT - timedelta(days=1)), "onset_date"),
        # Awareness against onset, on the site's calendar: 20:00 UTC is 01:00 next day there.
        (_event(**SERIOUS, awareness_at=datetime.combine(ONSET, time(0, 0), KARACHI)), None),
        (
            _event(
                **SERIOUS,
                awareness_at=datetime.combine(ONSET - timedelta(days=1), time(23, 59), KARACHI),
            ),
            "awareness_at",
        ),
        (
            _event(
                **SERIOUS,
                awareness_at=datetime.combine(ONSET - timedelta(days=1), time(20, 0), utc),
            ),
            None,
        ),
        # Fatal: grade 5, the date of death as end date, serious by death.
        (
            _resolved("fatal", ONSET)
            | {"grade": 5, "serious": True, "death": True, "awareness_at": None},
            "awareness_at",
        ),
        (
            _resolved("fatal", None)
            | {"grade": 5, "serious": True, "death": True, "ongoing": False},
            "end_date",
        ),
        (_resolved("fatal", ONSET) | {"grade": 4, "serious": True, "death": True}, "grade"),
        (_resolved("fatal", ONSET) | {"grade": 5, "serious": True}, "death"),
        (_event(grade=5), "outcome"),
        # Serious needs a criterion, and a criterion makes it serious.
        (_event(serious=True, awareness_at=datetime.combine(ONSET, time(9), utc)), "serious"),
        (_event(life_threatening=True), "serious"),
    ],
)
def test_an_adverse_event_is_consistent_at_every_edge(answers, field):
    errors = grading.check(answers, consent_date=CONSENT, zone=KARACHI)
    if field is None:
        assert errors == {}
    else:
        assert field in errors, errors


@pytest.mark.parametrize(
    ("reaction", "serious", "grade", "expected"),
    [
        ("Knee swelling or effusion", False, 3, True),  # not serious: the list decides
        ("Knee swelling or effusion", True, protocol.EXPECTED_REACTION_MAX_GRADE, True),
        ("Knee swelling or effusion", True, protocol.EXPECTED_REACTION_MAX_GRADE + 1, False),
        ("", True, 1, False),
        ("Septic arthritis", True, 1, False),  # not on the protocol's list
    ],
)
def test_expectedness_follows_the_list_and_the_severity_described(
    reaction, serious, grade, expected
):
    answer = grading.is_expected(expected_reaction=reaction, serious=serious, grade=grade)
    assert answer is expected
