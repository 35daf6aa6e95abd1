"""Adverse-event rules: validation, relatedness, expectedness, seriousness and clocks
(domain.md §6; ICH E2A; CTCAE v5.0).

Pure functions, no database. Dates and times are passed in; clocks come from protocol.py.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from trialsite import protocol
from trialsite.choices import FATAL_OUTCOME

SERIOUSNESS_CRITERIA = {
    "death": "Results in death",
    "life_threatening": "Life-threatening",
    "hospitalisation": "Requires or prolongs hospitalisation",
    "disability": "Persistent or significant disability or incapacity",
    "congenital_anomaly": "Congenital anomaly or birth defect",
    "medically_important": "Other important medical event",
}

RELATIONSHIPS = {
    "not_related": "Not related",
    "unlikely": "Unlikely",
    "possible": "Possible",
    "probable": "Probable",
    "definite": "Definite",
}
RELATED = ("possible", "probable", "definite")  # a "reasonable possibility" (ICH E2A)

GRADES = {
    1: "1 – Mild",
    2: "2 – Moderate",
    3: "3 – Severe or medically significant",
    4: "4 – Life-threatening",
    5: "5 – Death related to AE",
}
FATAL = FATAL_OUTCOME
# Outcomes of an event that has ended (it has an end date; for a fatal one, the date of death)
# and of one that has not (no end date).
ENDED = ("recovered", "sequelae", FATAL)
NOT_ENDED = ("recovering", "not_recovered")


def is_related(*relationships: str | None) -> bool:
    """Related to any of the product components or the procedure."""
    return any(r in RELATED for r in relationships if r)


def check(ae: dict, *, consent_date: date | None, zone=None) -> dict[str, str]:
    """Errors by field for an adverse event's answers (see safety.models.AdverseEvent).

    `consent_date` is the day of consent at the participant's site and `zone` the site's time
    zone (the day of awareness is the site's)."""
    errors = {}
    onset, end = ae.get("onset_date"), ae.get("end_date")
    outcome = ae.get("outcome")
    if onset and consent_date and onset < consent_date:
        errors["onset_date"] = f"Onset cannot be before informed consent ({consent_date:%Y-%m-%d})."
    if onset and end and end < onset:
        errors["end_date"] = "The end date cannot be before the onset."
    if ae.get("ongoing") and end:
        errors["end_date"] = "An ongoing event has no end date: clear one of them."
    if ae.get("ongoing") is False and not end:
        errors["end_date"] = "Enter the end date, or mark the event as ongoing."
    if outcome in ENDED and ae.get("ongoing"):
        errors["ongoing"] = "This outcome means the event has ended: it is not ongoing."
    if outcome in ENDED and not end and "end_date" not in errors:
        errors["end_date"] = (
            "Enter the date of death as the end date."
            if outcome == FATAL
            else "A resolved event needs its end date."
        )
    if outcome in NOT_ENDED and end and "end_date" not in errors:
        errors["end_date"] = "The event has not resolved: it has no end date."
    awareness = ae.get("awareness_at")
    if onset and isinstance(awareness, datetime):
        aware_day = awareness.astimezone(zone).date() if zone else awareness.date()
        if aware_day < onset:
            errors["awareness_at"] = "The site cannot have become aware before the onset."
    fatal = outcome == FATAL
    if ae.get("grade") == 5 and not fatal:
        errors["outcome"] = "Grade 5 means death: the outcome must be fatal."
    if fatal and ae.get("grade") not in (None, 5):
        errors["grade"] = "A fatal outcome is grade 5."
    if fatal and not ae.get("death"):
        errors["death"] = "A fatal event is serious by death: tick this criterion."
    criteria = [name for name in SERIOUSNESS_CRITERIA if ae.get(name)]
    if ae.get("serious") and not criteria:
        errors["serious"] = "A serious event needs at least one seriousness criterion."
    if criteria and not ae.get("serious"):
        errors["serious"] = "A seriousness criterion is ticked: the event is serious."
    if ae.get("serious") and not ae.get("awareness_at"):
        errors["awareness_at"] = "Enter when the site became aware of this serious event."
    return errors


@dataclass(frozen=True)
class Clock:
    name: str
    due: datetime

    def overdue(self, now: datetime) -> bool:
        return now > self.due

    def remaining(self, now: datetime) -> timedelta:
        return self.due - now


def _elapsed(moment: datetime, duration: timedelta) -> datetime:
    """`duration` of elapsed time after `moment` (UTC arithmetic: an aware datetime in a zone
    with daylight saving would otherwise add wall-clock time, an hour off across the change)."""
    return moment.astimezone(UTC) + duration


def sae_clock(awareness_at: datetime) -> Clock:
    """The investigator's assessment is due within protocol.SAE_REPORT_WITHIN of awareness."""
    return Clock("SAE report", _elapsed(awareness_at, protocol.SAE_REPORT_WITHIN))


def is_expected(*, expected_reaction: str, serious: bool, grade: int | None) -> bool:
    """Expected: one of the protocol's expected reactions, and for a serious event not more
    severe than the reference safety information describes (ICH E2A; protocol setting)."""
    if expected_reaction not in protocol.EXPECTED_REACTIONS:
        return False
    return not (serious and grade is not None and grade > protocol.EXPECTED_REACTION_MAX_GRADE)


def is_susar(*, serious: bool, related: bool, expected: bool) -> bool:
    return serious and related and not expected


def susar_clock(awareness_at: datetime, *, fatal_or_life_threatening: bool) -> Clock:
    within = (
        protocol.SUSAR_FATAL_OR_LIFE_THREATENING_WITHIN
        if fatal_or_life_threatening
        else protocol.SUSAR_OTHER_WITHIN
    )
    return Clock(f"SUSAR report ({within.days} days)", _elapsed(awareness_at, within))
