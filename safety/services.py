"""Safety services: report and update adverse events, the investigator's signature, and the
SAE e-mails (exactly once per event and kind).

Each write runs in one transaction and takes `by=` the acting user; e-mails are queued to
Celery after commit.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from enrollment import end_of_study
from enrollment.models import EndOfStudy, Participant
from safety import concomitant_medication, grading
from safety.models import (
    AE_FIELDS,
    AdverseEvent,
    ConcomitantMedication,
    Outcome,
    SaeNotification,
)
from trialsite import protocol, roles
from trialsite.accounts.models import User
from trialsite.audit import context as audit
from trialsite.crf import registry
from trialsite.crf.locking import ensure_unlocked
from trialsite.crf.services import REASON_REQUIRED, CrfConflict, ReasonRequired, save_log_record
from trialsite.outbox import services as outbox
from visits import dosing
from visits.models import DeviationCategory
from visits.services import record_detected_deviation

SIGNATURE_MEANING = "Reviewed and approved: causality and expectedness confirmed"
NOT_ALLOWED_TO_SIGN = "Only an investigator can sign adverse events."
WRONG_PASSWORD = "The password is not correct; the event was not signed."  # noqa: S105


def _check(participant: Participant, values: dict, by, ae: AdverseEvent | None = None) -> None:
    """Refuse locked data and an event that breaks the AE rules (safety/grading.py).

    `values` are the event's answers after the change. Whether PRGF relatedness is asked
    depends on the arm, so it is required only from users who may see the arm; the
    investigator assesses it when signing.
    """
    ensure_unlocked(participant=participant, record=ae)
    consent = participant.screening.consent
    site = participant.site
    errors = grading.check(
        values, consent_date=site.local_date(consent.consented_at), zone=site.zone
    )
    has_prgf = dosing.ARMS[participant.arm].prgf_ml > 0
    if has_prgf and by.sees_arm and not values.get("relationship_prgf"):
        errors["relationship_prgf"] = "Assess the relationship to PRGF (arm B)."
    if not has_prgf and values.get("relationship_prgf"):
        errors["relationship_prgf"] = "This participant received no PRGF: leave it empty."
    death = _end_of_study_error(participant, values, ae)
    if death:
        errors["outcome"] = death
    if errors:
        raise ValidationError(errors)


def _end_of_study_error(participant: Participant, values: dict, ae: AdverseEvent | None) -> str:
    """A fatal outcome against the participant's end of study (enrollment/end_of_study.py)."""
    ended = EndOfStudy.objects.filter(participant=participant).first()
    others = AdverseEvent.objects.filter(participant=participant, outcome=Outcome.FATAL)
    if ae is not None:
        others = others.exclude(pk=ae.pk)
    return end_of_study.fatal_ae_error(
        outcome_fatal=values.get("outcome") == Outcome.FATAL,
        end_reason=ended.reason if ended is not None else None,
        other_fatal=others.exists(),
    )


def _queue_sae_notice(ae: AdverseEvent) -> None:
    """In the event's transaction: the e-mail goes out even if the broker is down now."""
    outbox.enqueue("safety.tasks.notify_sae", ae.pk)


def record_adverse_event(
    *,
    participant: Participant,
    record: AdverseEvent | None,
    data: dict,
    version: int,
    reason="",
    by,
) -> AdverseEvent:
    """The adverse event log's service (registry): report a new event or change one."""
    if record is None:
        return report_adverse_event(participant=participant, data=data, by=by)
    return update_adverse_event(ae=record, data=data, version=version, reason=reason, by=by)


def report_adverse_event(*, participant: Participant, data: dict, by) -> AdverseEvent:
    """Record a new adverse event; a serious one e-mails the investigators at once."""
    _check(participant, {"relationship_prgf": "", **data}, by)
    with transaction.atomic():
        ae = save_log_record(
            model=AdverseEvent, participant=participant, record=None, data=data, version=0, by=by
        )
        if ae.serious:
            _queue_sae_notice(ae)
        return ae


def update_adverse_event(
    *, ae: AdverseEvent, data: dict, version: int, reason: str, by
) -> AdverseEvent:
    """Follow-up or correction. The history stays in the audit trail; a signed event loses its
    signature and goes back to the investigator's queue."""
    if not reason.strip():
        raise ReasonRequired(REASON_REQUIRED)
    with transaction.atomic():
        current = AdverseEvent.objects.select_for_update().get(pk=ae.pk)
        if current.version != version:
            raise CrfConflict(current)
        _check(ae.participant, {**_answers(current), **data}, by, current)
        unsigned = {"signed_by": None, "signed_at": None, "signature_meaning": ""}
        updated = save_log_record(
            model=AdverseEvent,
            participant=ae.participant,
            record=current,
            data={**data, **unsigned},
            version=version,
            reason=reason,
            by=by,
        )
        if updated.serious and not current.serious:
            _queue_sae_notice(updated)
        return updated


def _answers(ae: AdverseEvent) -> dict:
    return {name: getattr(ae, name) for name in AE_FIELDS}


def sign_adverse_event(
    *, ae: AdverseEvent, password: str, confirmed: dict, version: int, by
) -> AdverseEvent:
    """The investigator confirms causality and expectedness and signs by re-entering the
    password (21 CFR 11.200). `confirmed` holds the relationship and expectedness answers."""
    if not (by.has_perm("accounts.sign_records") and by.has_perm("accounts.review_adverse_events")):
        raise PermissionDenied(NOT_ALLOWED_TO_SIGN)
    if not by.check_password(password):
        raise ValidationError({"password": WRONG_PASSWORD})
    _check(ae.participant, _answers(ae) | confirmed, by, ae)
    with transaction.atomic(), audit.acting(by=by, reason=SIGNATURE_MEANING):
        current = AdverseEvent.objects.select_for_update().get(pk=ae.pk)
        if current.version != version:
            raise CrfConflict(current)
        for name, value in confirmed.items():
            setattr(current, name, value)
        current.signed_by, current.signed_at = by, timezone.now()
        current.signature_meaning = SIGNATURE_MEANING
        current.stamp_change(by)
        current.full_clean()
        current.save()
        return current


# --- SAE e-mails -------------------------------------------------------------------------------
def _recipients(ae: AdverseEvent) -> tuple[list[str], list[str]]:
    """(addresses that may read the arm, addresses of users who may not): the site's
    investigators and the safety contacts (sponsor pharmacovigilance, unblinded)."""
    investigators = User.objects.filter(
        sites=ae.site_id, groups__name=roles.INVESTIGATOR, is_active=True
    ).exclude(email="")
    blinded = {u.email for u in investigators if not u.sees_arm}
    unblinded = {u.email for u in investigators if u.sees_arm} | set(settings.SAFETY_CONTACTS)
    return sorted(unblinded - blinded), sorted(blinded)


def _message(ae: AdverseEvent, kind: str, *, sees_arm: bool = True) -> tuple[str, str]:
    """Subject and body of an SAE e-mail. Whether the event is a SUSAR counts its PRGF
    relatedness, which reveals the arm: a recipient who may not see arms is not told."""
    clock = grading.sae_clock(ae.awareness_at)
    due = timezone.localtime(clock.due, ae.site.zone)
    subject = (
        f"[trialsite SAE] {ae.participant.participant_id} AE {ae.number}: {ae.verbatim_term}"
        if kind == SaeNotification.Kind.INITIAL
        else f"[trialsite SAE OVERDUE] {ae.participant.participant_id} AE {ae.number}"
    )
    lines = [
        f"Participant {ae.participant.participant_id} ({ae.site.name}), AE {ae.number}: "
        f"{ae.verbatim_term}",
        f"Onset {ae.onset_date:%Y-%m-%d}, CTCAE grade {ae.grade}; "
        f"serious: {', '.join(ae.criteria())}.",
        f"Site aware {timezone.localtime(ae.awareness_at, ae.site.zone):%Y-%m-%d %H:%M %Z}.",
        f"The investigator's assessment is due by {due:%Y-%m-%d %H:%M %Z}.",
    ]
    if ae.susar and sees_arm:
        lines.append(
            "Serious, related and unexpected: a suspected unexpected serious adverse "
            "reaction (SUSAR) with its own reporting clock."
        )
    if kind == SaeNotification.Kind.ESCALATION:
        lines.insert(0, "OVERDUE: the investigator has not yet signed the assessment of this SAE.")
    return subject, "\n".join(lines)


def send_sae_notification(*, ae_id: int, kind: str) -> bool:
    """E-mail the investigators and safety contacts about an SAE, at most once per kind.

    The claim row and the e-mails share one transaction: a failed send claims nothing (the task
    retries), and a second run finds the claim and sends nothing. Recipients who may not see
    arms get their own message, without what reveals the arm. Returns whether it sent.
    """
    with transaction.atomic():
        ae = AdverseEvent.objects.select_related("participant", "site").get(pk=ae_id)
        if not ae.serious:
            return False
        unblinded, blinded = _recipients(ae)
        try:
            with transaction.atomic():
                SaeNotification.objects.create(
                    adverse_event=ae, kind=kind, recipients=sorted(unblinded + blinded)
                )
        except IntegrityError:
            return False
        for addresses, sees_arm in ((unblinded, True), (blinded, False)):
            if addresses:
                subject, body = _message(ae, kind, sees_arm=sees_arm)
                send_mail(subject=subject, message=body, from_email=None, recipient_list=addresses)
        return True


def escalate_overdue_saes(now=None) -> int:
    """E-mail once about every serious event whose investigator assessment is late."""
    now = now or timezone.now()
    candidates = AdverseEvent.objects.filter(
        serious=True, signed_at__isnull=True, awareness_at__lt=now - protocol.SAE_REPORT_WITHIN
    )
    return sum(
        send_sae_notification(ae_id=ae.pk, kind=SaeNotification.Kind.ESCALATION)
        for ae in candidates
        if ae.sae_overdue(now)
    )


def record_concomitant_medication(
    *,
    participant: Participant,
    record: ConcomitantMedication | None,
    data: dict,
    version: int,
    reason: str = "",
    by,
) -> ConcomitantMedication:
    """The concomitant medications log's service (registry): add or change an entry. A
    medication the protocol forbids (safety/concomitant_medication.py) opens a protocol
    deviation, once per entry and rule; the saved entry lists those it opened in
    `deviations_opened`."""
    with transaction.atomic():
        entry = save_log_record(
            model=ConcomitantMedication,
            participant=participant,
            record=record,
            data=data,
            version=version,
            reason=reason,
            by=by,
        )
        site = participant.site
        findings = concomitant_medication.forbidden(
            name=entry.drug_name,
            atc=entry.atc_code,
            route=entry.route,
            start=entry.start_date,
            stop=entry.stop_date,
            study_start=site.local_date(participant.randomized_at),
            pain_assessments=_pain_assessment_days(participant),
            today=site.today(),
        )
        entry.deviations_opened = []
        with audit.acting(by=by, reason=reason.strip()):
            for finding in findings:
                deviation = record_detected_deviation(
                    participant=participant,
                    category=DeviationCategory.FORBIDDEN_MEDICATION,
                    detected_from=f"forbidden_medication:medication {entry.number} "
                    f"{finding.rule.key}",
                    description=f"{entry.drug_name} ({entry.get_route_display().lower()}, "
                    f"from {entry.start_date:%Y-%m-%d}): {finding.description}",
                    occurred_on=finding.on,
                    by=by,
                )
                if deviation is not None:
                    entry.deviations_opened.append(deviation)
        return entry


def _pain_assessment_days(participant: Participant) -> list:
    """The days, in the site's zone, of the participant's VAS pain assessments (the form
    outcomes declares; safety does not import outcomes)."""
    site = participant.site
    assessments = registry.get("vas_pain").records_of([participant])
    return [
        site.local_date(at)
        for at in assessments.filter(score_mm__isnull=False).values_list("assessed_at", flat=True)
    ]
