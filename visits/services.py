"""Services for visits, the injection and PRGF CRFs, and secretome lots.

Each runs in one transaction, takes `by=` the acting user and stamps the audit trail. Dates of
visits are local dates of the participant's site.
"""

from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from trialsite import protocol
from trialsite.audit import context as audit
from trialsite.crf import registry
from trialsite.crf.locking import ensure_unlocked
from trialsite.crf.services import save_crf
from visits import dosing, schedule
from visits.models import (
    Deviation,
    DeviationCategory,
    Injection,
    LotTransaction,
    PrgfPreparation,
    ReleaseTest,
    SecretomeLot,
    Visit,
)


def local_date(participant, moment) -> date:
    """The calendar date of `moment` in the participant's site zone."""
    return participant.site.local_date(moment)


def site_today(site) -> date:
    return site.today()


# --- Visits ---------------------------------------------------------------------------------
def _apply_windows(visits, anchor: date) -> None:
    for visit in visits:
        w = schedule.window(visit.code, anchor)
        visit.target_date, visit.window_opens, visit.window_closes = w.target, w.opens, w.closes


def create_visit_schedule(*, participant, by) -> list[Visit]:
    """Create the participant's scheduled visits (one per protocol.VISIT_SCHEDULE entry).

    Called by enrollment.services.randomize_participant inside its transaction. Windows count
    from the randomization date until the M0 injection is recorded. Withdrawn participants
    get no new visits.
    """
    if participant.screening.consent.is_withdrawn:
        return []
    existing = set(Visit.objects.filter(participant=participant).values_list("code", flat=True))
    visits = [
        Visit(participant=participant, code=v.code)
        for v in protocol.VISIT_SCHEDULE
        if v.code not in existing
    ]
    _apply_windows(visits, local_date(participant, participant.randomized_at))
    for visit in visits:
        if visit.code == "SCR":  # screening took place before randomization
            visit.visit_date = participant.screening.screening_date
        visit.forms_complete = not registry.visit_forms(visit)  # a safety call: none due
    return Visit.objects.bulk_create(visits)


def reschedule_visits(*, participant, anchor: date, by) -> None:
    """Move every scheduled visit's target and window to count from the M0 date `anchor`."""
    with transaction.atomic(), audit.acting(by=by, reason="M0 injection date entered or corrected"):
        visits = list(
            Visit.objects.filter(participant=participant).exclude(code=schedule.UNSCHEDULED)
        )
        _apply_windows(visits, anchor)
        Visit.objects.bulk_update(visits, ["target_date", "window_opens", "window_closes"])


def record_detected_deviation(
    *, participant, category: str, detected_from: str, description: str, occurred_on, by, visit=None
) -> Deviation | None:
    """Add a deviation the system found (a visit out of its window, a dose deviation, a
    forbidden medication) to the participant's register, once: `detected_from` names what
    found it, and a later save of the same record adds nothing (the database holds it to one).
    Its severity is the protocol's for the category. Runs inside the caller's transaction.
    Returns the new deviation, or None if it was recorded before."""
    with transaction.atomic():
        # The participant's row locked, numbers taken in turn (the row itself is not needed:
        # a save that finds two deviations would read it twice).
        list(type(participant).objects.select_for_update().filter(pk=participant.pk).values("pk"))
        found = Deviation.objects.filter(participant=participant, detected_from=detected_from)
        if found.exists():
            return None
        last = Deviation.objects.filter(participant=participant).aggregate(n=Max("number"))
        deviation = Deviation(
            participant=participant,
            site_id=participant.site_id,
            number=(last["n"] or 0) + 1,
            visit=visit,
            category=category,
            severity=protocol.DEVIATION_SEVERITY[category],
            description=description[: Deviation._meta.get_field("description").max_length],
            occurred_on=occurred_on,
            detected_from=detected_from,
        )
        deviation.stamp_change(by)
        deviation.save()
        return deviation


def record_visit(*, visit: Visit, visit_date: date, by, reason: str = "") -> Visit:
    """Record the date a visit took place. Outside its window it is accepted as a deviation."""
    if visit_date > site_today(visit.participant.site):
        raise ValidationError({"visit_date": "The visit date cannot be in the future."})
    ended_on = (
        Visit.objects.filter(pk=visit.pk)
        .values_list("participant__end_of_study__ended_on", flat=True)
        .first()
    )
    if ended_on is not None and visit_date > ended_on:
        raise ValidationError(
            {"visit_date": f"The participant's study ended on {ended_on:%Y-%m-%d}."}
        )
    ensure_unlocked(participant=visit.participant, visit=visit, record=visit)
    with transaction.atomic(), audit.acting(by=by, reason=reason):
        visit = Visit.objects.select_for_update().get(pk=visit.pk)
        visit.visit_date = visit_date
        visit.missed_reason = ""
        visit.awaiting_signature = True  # held: for the investigator to sign
        visit.full_clean()  # the date's range, and not before consent
        visit.save(update_fields=["visit_date", "missed_reason", "awaiting_signature"])
        if visit.window and not visit.window.contains(visit_date):
            days = schedule.days_outside(visit.window, visit_date)
            record_detected_deviation(
                participant=visit.participant,
                visit=visit,
                category=DeviationCategory.VISIT_WINDOW,
                detected_from=f"visit_window:visit {visit.pk}",
                description=(
                    f"{visit.code} on {visit_date:%Y-%m-%d}, {abs(days)} day(s) "
                    f"{'before' if days < 0 else 'after'} its window "
                    f"({visit.window_opens:%Y-%m-%d} to {visit.window_closes:%Y-%m-%d})."
                ),
                occurred_on=visit_date,
                by=by,
            )
        return visit


def record_form_outside_window(*, visit: Visit, form_title: str, day: date, by) -> None:
    """A form collected outside its visit's window, confirmed by the user: a deviation (one
    per visit, as for the visit's own date)."""
    window = visit.window
    with transaction.atomic(), audit.acting(by=by):
        record_detected_deviation(
            participant=visit.participant,
            visit=visit,
            category=DeviationCategory.VISIT_WINDOW,
            detected_from=f"visit_window:visit {visit.pk}",
            description=(
                f"{form_title} at {visit.code} collected on {day:%Y-%m-%d}, outside the "
                f"window ({window.opens:%Y-%m-%d} to {window.closes:%Y-%m-%d})."
            ),
            occurred_on=day,
            by=by,
        )


def record_missed_visit(*, visit: Visit, reason: str, by) -> Visit:
    if not reason.strip():
        raise ValidationError({"missed_reason": "Say why the visit was missed."})
    ensure_unlocked(participant=visit.participant, visit=visit, record=visit)
    with transaction.atomic(), audit.acting(by=by, reason=reason):
        visit = Visit.objects.select_for_update().get(pk=visit.pk)
        if visit.visit_date:
            raise ValidationError("This visit took place; correct its date instead.")
        visit.missed_reason = reason.strip()
        visit.full_clean()
        visit.save(update_fields=["missed_reason"])
        return visit


def add_unscheduled_visit(*, participant, visit_date: date, reason: str, by) -> Visit:
    if participant.screening.consent.is_withdrawn:
        raise ValidationError("This participant has withdrawn consent: no new visits.")
    if type(participant).objects.filter(pk=participant.pk, end_of_study__isnull=False).exists():
        raise ValidationError("This participant's study has ended: no new visits.")
    if not reason.strip():
        raise ValidationError({"unscheduled_reason": "Say why the visit took place."})
    ensure_unlocked(participant=participant)
    if visit_date > site_today(participant.site):
        raise ValidationError({"visit_date": "The visit date cannot be in the future."})
    with transaction.atomic(), audit.acting(by=by):
        last = (
            Visit.objects.select_for_update()
            .filter(participant=participant, code=schedule.UNSCHEDULED)
            .order_by("-sequence")
            .first()
        )
        visit = Visit(
            participant=participant,
            code=schedule.UNSCHEDULED,
            sequence=(last.sequence + 1) if last else 1,
            visit_date=visit_date,
            unscheduled_reason=reason.strip(),
        )
        visit.forms_complete = not registry.visit_forms(visit)
        visit.awaiting_signature = True  # held
        visit.full_clean()  # the date's range, and not before consent
        visit.save()
        return visit


# --- Secretome lots and the ledger --------------------------------------------------------------
def _move_stock(*, lot, change: Decimal, kind, by, participant=None, note="") -> LotTransaction:
    """Change a locked lot's balance and write the ledger line. Never below zero."""
    if lot.balance_ml + change < 0:
        raise ValidationError(
            {"secretome_lot": f"Lot {lot.lot_number} has only {lot.balance_ml} mL left."}
        )
    lot.balance_ml += change
    lot.save(update_fields=["balance_ml"])
    return LotTransaction.objects.create(
        lot=lot,
        kind=kind,
        change_ml=change,
        balance_after_ml=lot.balance_ml,
        participant=participant,
        note=note,
        by=by,
    )


def register_lot(*, data: dict, by) -> SecretomeLot:
    """Receive a new lot into quarantine; the received volume opens the ledger."""
    with transaction.atomic(), audit.acting(by=by):
        lot = SecretomeLot(**data, balance_ml=Decimal("0"), created_by=by)
        lot.full_clean(exclude=["balance_ml"])
        lot.save()
        _move_stock(
            lot=lot, change=lot.volume_received_ml, kind=LotTransaction.Kind.RECEIVED, by=by
        )
        return lot


def record_release_test(*, lot: SecretomeLot, data: dict, by) -> ReleaseTest:
    with transaction.atomic(), audit.acting(by=by):
        lot = SecretomeLot.objects.select_for_update().get(pk=lot.pk)
        if lot.status != SecretomeLot.Status.QUARANTINE:
            raise ValidationError("Tests can be added only before the release decision.")
        test = ReleaseTest(lot=lot, recorded_by=by, **data)
        test.full_clean()
        test.save()
        return test


def missing_release_tests(lot: SecretomeLot) -> list[str]:
    """The release tests not yet recorded as passed."""
    passed = set(lot.tests.filter(passed=True).values_list("test", flat=True))
    return [label for value, label in ReleaseTest.Test.choices if value not in passed]


def decide_lot_release(*, lot: SecretomeLot, release: bool, note: str, by) -> SecretomeLot:
    """QA decision on a quarantined lot. Release needs every test recorded and passed."""
    if not by.has_perm("accounts.release_lot"):
        raise PermissionDenied("Your role cannot release secretome lots.")
    with transaction.atomic(), audit.acting(by=by, reason=note):
        lot = SecretomeLot.objects.select_for_update().get(pk=lot.pk)
        if lot.status != SecretomeLot.Status.QUARANTINE:
            raise ValidationError("This lot already has a release decision.")
        if release:
            missing = missing_release_tests(lot)
            if missing:
                raise ValidationError(f"Not released: {', '.join(missing)} not passed yet.")
        elif not note.strip():
            raise ValidationError({"note": "Say why the lot is rejected."})
        lot.status = SecretomeLot.Status.RELEASED if release else SecretomeLot.Status.REJECTED
        lot.decided_by, lot.decided_at, lot.decision_note = by, timezone.now(), note
        lot.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        return lot


def destroy_stock(*, lot: SecretomeLot, volume_ml: Decimal, note: str, by) -> LotTransaction:
    if volume_ml <= 0:
        raise ValidationError({"volume_ml": "Enter the volume destroyed, above 0 mL."})
    if not note.strip():
        raise ValidationError({"note": "Say why the stock was destroyed."})
    with transaction.atomic(), audit.acting(by=by, reason=note):
        lot = SecretomeLot.objects.select_for_update().get(pk=lot.pk)
        return _move_stock(
            lot=lot, change=-volume_ml, kind=LotTransaction.Kind.DESTROYED, note=note, by=by
        )


def usable_lots(on: date):
    """Lots that may be chosen at an injection on `on`: released, unexpired, with stock."""
    return SecretomeLot.objects.filter(
        status=SecretomeLot.Status.RELEASED, expires_on__gte=on, balance_ml__gt=0
    )


# --- The injection and PRGF CRFs ------------------------------------------------------------------
def record_prgf_preparation(*, visit, data, version, complete, reason="", by) -> PrgfPreparation:
    """Save the PRGF preparation CRF (arm B only); the platelet fold is computed."""
    participant = visit.participant
    if dosing.ARMS[participant.arm].prgf_ml == 0:
        raise ValidationError(dosing.NO_PRGF_IN_ARM_A)
    errors = dosing.check_prgf_times(
        data.get("blood_drawn_at"), data.get("activated_at"), data.get("mixed_with_secretome_at")
    )
    if data.get("operator") and data.get("operator") == data.get("identity_checked_by"):
        errors["identity_checked_by"] = "A second person must check the participant's identity."
    if errors:
        raise ValidationError(errors)
    data = {
        **data,
        "platelet_fold": dosing.platelet_fold(
            data["platelets_whole_blood"], data["platelets_prgf"]
        ),
    }
    return save_crf(
        crf_class=PrgfPreparation,
        visit=visit,
        data=data,
        version=version,
        complete=complete,
        reason=reason,
        by=by,
    )


def record_injection(*, visit, data, version, complete, reason="", by) -> Injection:
    """Save the injection CRF: product rules per arm, stock from the lot, deviations, visit date,
    and for M0 the schedule of every later visit."""
    participant = visit.participant
    if visit.code not in schedule.INJECTION_VISITS:
        raise ValidationError("Injections are recorded at M0 and M6 only.")
    prgf = PrgfPreparation.objects.filter(visit=visit).first()
    if dosing.ARMS[participant.arm].prgf_ml:
        data = {**data, "prgf_preparation": prgf}
    errors = dosing.check_injection(
        participant.arm,
        secretome_ml=data.get("secretome_volume_ml"),
        prgf_ml=data.get("prgf_volume_ml"),
        has_prgf_preparation=data.get("prgf_preparation") is not None,
        deviation_reason=data.get("deviation_reason", ""),
    )
    if errors:
        raise ValidationError(errors)
    day = local_date(participant, data["injected_at"])
    if day > site_today(participant.site):
        raise ValidationError({"injected_at": "The injection cannot be in the future."})

    with transaction.atomic(), audit.acting(by=by, reason=reason):
        previous = Injection.objects.select_for_update().filter(visit=visit).first()
        old = (previous.secretome_lot_id, previous.secretome_volume_ml) if previous else None
        new = (data["secretome_lot"].pk, data["secretome_volume_ml"])
        # Lock the lots involved in one order, so that concurrent saves cannot deadlock.
        lot_ids = sorted({new[0], *([old[0]] if old else [])})
        lots = {
            lot.pk: lot
            for lot in SecretomeLot.objects.select_for_update()
            .filter(pk__in=lot_ids)
            .order_by("pk")
        }
        lot = lots[new[0]]
        if old != new and not lot.usable_on(day):
            raise ValidationError(
                {"secretome_lot": f"Lot {lot.lot_number} is not released or expired on {day}."}
            )
        minutes = None
        if data.get("prgf_preparation") is not None:
            minutes = dosing.minutes_between(
                data["prgf_preparation"].blood_drawn_at, data["injected_at"]
            )
        data = {
            **data,
            "total_volume_ml": dosing.total_volume(
                data["secretome_volume_ml"], data.get("prgf_volume_ml")
            ),
            "minutes_draw_to_injection": minutes,
        }
        injection = save_crf(
            crf_class=Injection,
            visit=visit,
            data=data,
            version=version,
            complete=complete,
            reason=reason,
            by=by,
        )
        if old != new:
            if old:
                _move_stock(
                    lot=lots[old[0]],
                    change=old[1],
                    kind=LotTransaction.Kind.CORRECTION,
                    participant=participant,
                    note=f"returned: {visit} injection corrected",
                    by=by,
                )
            _move_stock(
                lot=lot,
                change=-new[1],
                kind=LotTransaction.Kind.DISPENSED,
                participant=participant,
                note=f"{visit} injection",
                by=by,
            )
        differences = dosing.volume_deviations(
            participant.arm, data["secretome_volume_ml"], data.get("prgf_volume_ml")
        )
        if differences:
            record_detected_deviation(
                participant=participant,
                visit=visit,
                category=DeviationCategory.DOSING,
                detected_from=f"dose_volume:visit {visit.pk}",
                description=f"{'; '.join(differences)}. Reason: {data['deviation_reason']}",
                occurred_on=day,
                by=by,
            )
        if minutes is not None and dosing.prgf_time_exceeded(minutes):
            record_detected_deviation(
                participant=participant,
                visit=visit,
                category=DeviationCategory.DOSING,
                detected_from=f"prgf_time:visit {visit.pk}",
                description=(
                    f"{minutes} minutes from blood draw to injection; the limit is "
                    f"{protocol.PRGF_MAX_MINUTES_DRAW_TO_INJECTION}."
                ),
                occurred_on=day,
                by=by,
            )
        if visit.code == "M0":
            reschedule_visits(participant=participant, anchor=day, by=by)
            visit.refresh_from_db()
        if visit.visit_date != day:
            record_visit(visit=visit, visit_date=day, by=by, reason=reason)
        return injection
