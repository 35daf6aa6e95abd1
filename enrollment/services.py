"""Enrollment services: screening, consent, randomization list import and randomization.

Each runs in one transaction, takes `by=` the acting user, and stamps the audit trail.
"""

import hashlib
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from enrollment import eligibility, end_of_study, randomization
from enrollment.models import (
    Consent,
    EndOfStudy,
    Participant,
    RandomizationList,
    RandomizationSlot,
    Screening,
)
from trialsite import protocol
from trialsite.audit import context as audit
from trialsite.choices import FATAL_OUTCOME
from trialsite.crf.locking import ensure_unlocked
from trialsite.crf.services import REASON_REQUIRED, CrfConflict, ReasonRequired
from trialsite.sites.models import Site
from visits.services import create_visit_schedule

NOT_ELIGIBLE = "This candidate is not eligible, so cannot be randomized."
NO_CONSENT = "Informed consent has not been recorded; record it before randomizing."
CONSENT_WITHDRAWN = "This candidate has withdrawn consent."
ALREADY_RANDOMIZED = "This candidate has already been randomized."
NO_LIST = "No randomization list has been loaded; ask a data manager to import it."
LIST_EXHAUSTED = "The randomization list has no free slot left for this stratum."
NOT_ALLOWED = "Your role does not allow randomizing participants."
LIST_EXISTS = "A randomization list is already loaded and locked; it cannot be replaced."


class RandomizationRefused(Exception):
    pass


def answers_of(screening: Screening) -> dict:
    return {name: getattr(screening, name) for name in eligibility.ANSWER_NAMES}


def _decide(screening: Screening) -> None:
    """Compute the derived values and the eligibility decision of a screening."""
    answers = answers_of(screening)
    screening.age_years = eligibility.age_on(screening.date_of_birth, screening.screening_date)
    screening.bmi = eligibility.bmi(screening.height_cm, screening.weight_kg)
    decision = eligibility.decide(answers)
    if not decision.is_complete:
        raise ValidationError(f"Screening is incomplete: {', '.join(decision.missing)}.")
    screening.eligible = bool(decision.eligible)
    screening.ineligibility_reasons = list(decision.reasons)
    screening.failed_criteria = list(decision.failed_criteria)
    screening.criteria_version = decision.protocol_version
    screening.decided_at = timezone.now()


def _save_screening(screening: Screening, by) -> None:
    if screening.sex != "F":
        screening.pregnant_or_breastfeeding = None  # not asked of men
    _decide(screening)
    screening.stamp_change(by)
    screening.full_clean()
    screening.save()


def screen_candidate(*, site: Site, data: dict, by) -> Screening:
    """Record a new screening at `site`: number it, decide eligibility and save."""
    with transaction.atomic(), audit.acting(by=by):
        # The site row lock makes screening numbers consecutive per site.
        site = Site.objects.select_for_update().get(pk=site.pk)
        count = Screening.objects.filter(site=site).count()
        screening = Screening(site=site, **data)
        screening.screening_number = f"{site.code}-S{count + 1:03d}"
        _save_screening(screening, by)
        return screening


def update_screening(
    *, screening: Screening, data: dict, version: int, reason: str, by
) -> Screening:
    """Correct a screening. A reason is required; the decision is made again."""
    with transaction.atomic(), audit.acting(by=by, reason=reason.strip()):
        current = Screening.objects.select_for_update().get(pk=screening.pk)
        if current.version != version:
            raise CrfConflict(current)
        if not reason.strip():
            raise ReasonRequired(REASON_REQUIRED)
        ensure_unlocked(
            participant=Participant.objects.filter(screening=current).first(), record=current
        )
        for name, value in data.items():
            setattr(current, name, value)
        _save_screening(current, by)
        return current


def record_consent(*, screening: Screening, data: dict, by) -> Consent:
    """Record informed consent for a screened candidate (once)."""
    with transaction.atomic(), audit.acting(by=by):
        ensure_unlocked()  # a locked study takes no new data
        if Consent.objects.filter(screening=screening).exists():
            raise ValidationError("Consent is already recorded for this candidate.")
        consent = Consent(screening=screening, **data)
        if screening.site.local_date(consent.consented_at) > screening.site.today():
            raise ValidationError({"consented_at": "Consent cannot be in the future."})
        consent.stamp_change(by)
        consent.full_clean()
        consent.save()
        return consent


def withdraw_consent(
    *, consent: Consent, withdrawn_on: date, data_use_allowed: bool, note: str, by
) -> Consent:
    """Record withdrawal of consent. No new visits or reminders follow."""
    with transaction.atomic(), audit.acting(by=by, reason=note or "consent withdrawn"):
        consent = Consent.objects.select_for_update().get(pk=consent.pk)
        ensure_unlocked(
            participant=Participant.objects.filter(screening=consent.screening_id).first(),
            record=consent,
        )
        if consent.is_withdrawn:
            raise ValidationError("Consent has already been withdrawn.")
        site = consent.screening.site
        if withdrawn_on < site.local_date(consent.consented_at):
            raise ValidationError({"withdrawn_on": "Withdrawal cannot be before consent."})
        if withdrawn_on > site.today():
            raise ValidationError({"withdrawn_on": "Withdrawal cannot be in the future."})
        consent.withdrawn_on = withdrawn_on
        consent.data_use_allowed = data_use_allowed
        consent.withdrawal_note = note
        consent.stamp_change(by)
        consent.save()
        return consent


def import_randomization_list(*, content: bytes, file_name: str, imported_by: str) -> dict:
    """Load the randomization list once and lock it. Returns the balance report per stratum."""
    slots = randomization.parse_list(content.decode("utf-8-sig"))
    with (
        transaction.atomic(),
        audit.acting(by=None, reason=f"randomization list imported by {imported_by}"),
    ):
        if RandomizationList.objects.exists():
            raise RandomizationRefused(LIST_EXISTS)
        try:
            with transaction.atomic():
                rlist = RandomizationList.objects.create(
                    sha256=hashlib.sha256(content).hexdigest(),
                    file_name=file_name,
                    strata_factors=list(protocol.STRATIFICATION_FACTORS),
                    slot_count=len(slots),
                    imported_by=imported_by,
                )
        except IntegrityError:
            raise RandomizationRefused(LIST_EXISTS) from None
        RandomizationSlot.objects.bulk_create(
            RandomizationSlot(
                randomization_list=rlist,
                stratum=s.stratum,
                sequence=s.sequence,
                block=s.block,
                block_size=s.block_size,
                arm=s.arm,
            )
            for s in slots
        )
    return randomization.balance(slots)


def randomize_participant(*, screening: Screening, by) -> Participant:
    """Allocate the next free slot of the candidate's stratum and create the participant.

    Refuses (RandomizationRefused, nothing changed) when the candidate is not eligible, has no
    consent or withdrew it, is already randomized, or when no list or no free slot exists.
    Concurrent calls never share a slot: the site row lock numbers participants in order, and
    the slot is taken with SELECT ... FOR UPDATE SKIP LOCKED.
    """
    if not by.has_perm("accounts.randomize_participant"):
        raise PermissionDenied(NOT_ALLOWED)
    ensure_unlocked()  # no randomization in a locked study
    with transaction.atomic(), audit.acting(by=by):
        screening = Screening.objects.select_for_update().get(pk=screening.pk)
        if Participant.objects.filter(screening=screening).exists():
            raise RandomizationRefused(ALREADY_RANDOMIZED)
        if not screening.eligible:
            raise RandomizationRefused(NOT_ELIGIBLE)
        consent = Consent.objects.filter(screening=screening).first()
        if consent is None:
            raise RandomizationRefused(NO_CONSENT)
        if consent.is_withdrawn:
            raise RandomizationRefused(CONSENT_WITHDRAWN)
        rlist = RandomizationList.objects.first()
        if rlist is None:
            raise RandomizationRefused(NO_LIST)

        site = Site.objects.select_for_update().get(pk=screening.site_id)
        stratum = randomization.stratum_for(answers_of(screening), tuple(rlist.strata_factors))
        slot = (
            RandomizationSlot.objects.select_for_update(skip_locked=True)
            .filter(randomization_list=rlist, stratum=stratum, participant__isnull=True)
            .order_by("sequence")
            .first()
        )
        if slot is None:
            raise RandomizationRefused(LIST_EXHAUSTED)

        number = Participant.objects.filter(site=site).count() + 1
        now = timezone.now()
        participant = Participant.objects.create(
            site=site,
            participant_id=f"{site.code}-{number:03d}",
            screening=screening,
            arm=slot.arm,
            randomized_at=now,
            randomized_by=by,
        )
        slot.participant = participant
        slot.allocated_at = now
        slot.save(update_fields=["participant", "allocated_at"])
        create_visit_schedule(participant=participant, by=by)
        return participant


def record_end_of_study(
    *, participant: Participant, record=None, data: dict, version: int, reason: str = "", by
) -> EndOfStudy:
    """Record how and when the participant's study ended, or correct it (with a reason, from
    the version the user's page was loaded from). A death must match a fatal adverse event and
    the reverse (enrollment/end_of_study.py). No visits or reminders follow. `record` is the
    stored form the user's page showed (the form view passes it); the stored one is read again
    under a lock."""
    with transaction.atomic(), audit.acting(by=by, reason=reason.strip()):
        Participant.objects.select_for_update().get(pk=participant.pk)
        current = EndOfStudy.objects.filter(participant=participant).first()
        ensure_unlocked(participant=participant, record=current)
        if current is None:
            current = EndOfStudy(participant=participant, site_id=participant.site_id)
        else:
            if current.version != version:
                raise CrfConflict(current)
            if not reason.strip():
                raise ReasonRequired(REASON_REQUIRED)
        for name, value in data.items():
            setattr(current, name, value)
        if current.status == end_of_study.COMPLETED:
            current.reason = ""
        fatal = participant.adverse_events.filter(outcome=FATAL_OUTCOME)
        errors = end_of_study.death_errors(
            reason=current.reason,
            fatal_ae_numbers=sorted(fatal.values_list("number", flat=True)),
        )
        if errors:
            raise ValidationError(errors)
        current.stamp_change(by)
        current.full_clean()
        current.save()
        return current
