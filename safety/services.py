"""Safety services: report and update adverse events, the investigator's signature, and the
SAE e-mails (exactly once per event and kind).

Each write runs in one transaction and takes `by=` the acting user; e-mails are queued to
Celery after commit.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from enrollment.models import Participant
from safety import grading
from safety.models import AE_FIELDS, AdverseEvent, SaeNotification
from trialsite import protocol, roles
from trialsite.accounts.models import User
from trialsite.audit import context as audit
from trialsite.crf.locking import ensure_unlocked
from trialsite.crf.services import REASON_REQUIRED, CrfConflict, ReasonRequired

SIGNATURE_MEANING = "Reviewed and approved: causality and expectedness confirmed"
NOT_ALLOWED_TO_SIGN = "Only an investigator can sign adverse events."
WRONG_PASSWORD = "The password is not correct; the event was not signed."  # noqa: S105


def _check(participant: Participant, data: dict, ae: AdverseEvent | None = None) -> None:
    ensure_unlocked(participant=participant, record=ae)
    consent = participant.screening.consent
    errors = grading.check(data, consent_date=timezone.localdate(consent.consented_at))
    has_prgf = next(a for a in protocol.ARMS if a.code == participant.arm).prgf_ml > 0
    if has_prgf and not data.get("relationship_prgf"):
        errors["relationship_prgf"] = "Assess the relationship to PRGF (arm B)."
    if not has_prgf and data.get("relationship_prgf"):
        errors["relationship_prgf"] = "This participant received no PRGF: leave it empty."
    if errors:
        raise ValidationError(errors)


def _queue_sae_notice(ae: AdverseEvent) -> None:
    from safety.tasks import notify_sae  # tasks import this module

    transaction.on_commit(lambda: notify_sae.delay(ae.pk))


def report_adverse_event(*, participant: Participant, data: dict, by) -> AdverseEvent:
    """Record a new adverse event; a serious one e-mails the investigators at once."""
    _check(participant, data)
    with transaction.atomic(), audit.acting(by=by):
        Participant.objects.select_for_update().get(pk=participant.pk)  # numbers in order
        last = AdverseEvent.objects.filter(participant=participant).aggregate(n=Max("number"))
        ae = AdverseEvent(participant=participant, site_id=participant.site_id, **data)
        ae.number = (last["n"] or 0) + 1
        ae.stamp_change(by)
        ae.full_clean()
        ae.save()
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
    _check(ae.participant, data, ae)
    with transaction.atomic(), audit.acting(by=by, reason=reason.strip()):
        current = AdverseEvent.objects.select_for_update().get(pk=ae.pk)
        if current.version != version:
            raise CrfConflict(current)
        was_serious = current.serious
        for name, value in data.items():
            setattr(current, name, value)
        current.signed_by, current.signed_at, current.signature_meaning = None, None, ""
        current.stamp_change(by)
        current.full_clean()
        current.save()
        if current.serious and not was_serious:
            _queue_sae_notice(current)
        return current


def sign_adverse_event(
    *, ae: AdverseEvent, password: str, confirmed: dict, version: int, by
) -> AdverseEvent:
    """The investigator confirms causality and expectedness and signs by re-entering the
    password (21 CFR 11.200). `confirmed` holds the relationship and expectedness answers."""
    if not (by.has_perm("accounts.sign_records") and by.has_perm("accounts.review_adverse_events")):
        raise PermissionDenied(NOT_ALLOWED_TO_SIGN)
    if not by.check_password(password):
        raise ValidationError({"password": WRONG_PASSWORD})
    data = {name: getattr(ae, name) for name in AE_FIELDS} | confirmed
    _check(ae.participant, data, ae)
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
def _recipients(ae: AdverseEvent) -> list[str]:
    investigators = User.objects.filter(
        sites=ae.site_id, groups__name=roles.INVESTIGATOR, is_active=True
    ).exclude(email="")
    return sorted({*investigators.values_list("email", flat=True), *settings.SAFETY_CONTACTS})


def _message(ae: AdverseEvent, kind: str) -> tuple[str, str]:
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
    if ae.susar:
        lines.append(
            "Serious, related and unexpected: a suspected unexpected serious adverse "
            "reaction (SUSAR) with its own reporting clock."
        )
    if kind == SaeNotification.Kind.ESCALATION:
        lines.insert(0, "OVERDUE: the investigator has not yet signed the assessment of this SAE.")
    return subject, "\n".join(lines)


def send_sae_notification(*, ae_id: int, kind: str) -> bool:
    """E-mail the investigators and safety contacts about an SAE, at most once per kind.

    The claim row and the e-mail share one transaction: a failed send claims nothing (the task
    retries), and a second run finds the claim and sends nothing. Returns whether it sent.
    """
    with transaction.atomic():
        ae = AdverseEvent.objects.select_related("participant", "site").get(pk=ae_id)
        if not ae.serious:
            return False
        recipients = _recipients(ae)
        try:
            with transaction.atomic():
                SaeNotification.objects.create(adverse_event=ae, kind=kind, recipients=recipients)
        except IntegrityError:
            return False
        subject, body = _message(ae, kind)
        send_mail(subject=subject, message=body, from_email=None, recipient_list=recipients)
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
