"""Rules of the concomitant medications log, with no database: an ATC code's shape, dates and
"ongoing", and which medications the protocol forbids (protocol.FORBIDDEN_MEDICATIONS)."""

import re
from dataclasses import dataclass
from datetime import date, timedelta

from trialsite import protocol

# WHO ATC: a level-1 letter, then 2 digits, a letter, a letter, 2 digits; any level from the
# second on may be given (e.g. "M01A" or "M01AE01").
ATC_CODE = re.compile(r"[A-Z](\d\d([A-Z]([A-Z](\d\d)?)?)?)?")
ATC_MESSAGE = "Enter a WHO ATC code such as M01AE01 (or its first levels, such as M01A)."


def atc_error(code: str) -> str:
    return "" if not code or ATC_CODE.fullmatch(code) else ATC_MESSAGE


def date_errors(*, start: date | None, stop: date | None, ongoing: bool) -> dict[str, str]:
    if ongoing and stop is not None:
        return {"stop_date": "An ongoing medication has no stop date."}
    if not ongoing and stop is None:
        return {"stop_date": "Give the stop date, or tick “ongoing”."}
    if start and stop and stop < start:
        return {"stop_date": "The stop date cannot be before the start date."}
    return {}


@dataclass(frozen=True)
class Finding:
    """A forbidden medication: the protocol's rule it breaks and the first day it did."""

    rule: protocol.ForbiddenMedication
    on: date

    @property
    def description(self) -> str:
        return f"{self.rule.label}."


def _matches(rule: protocol.ForbiddenMedication, name: str, atc: str, route: str) -> bool:
    if rule.routes and route not in rule.routes:
        return False
    words = re.findall(r"[a-z]+", name.lower())
    named = any(word.startswith(stem) for stem in rule.names for word in words)
    coded = bool(atc) and atc.upper().startswith(rule.atc_prefixes)
    return named or coded


def forbidden(
    *,
    name: str,
    atc: str,
    route: str,
    start: date,
    stop: date | None,
    study_start: date,
    pain_assessments: list[date],
    today: date,
) -> list[Finding]:
    """The protocol's rules this medication breaks: taken from `start` to `stop` (or today,
    while ongoing), after the participant's `study_start`, with the pain assessments done."""
    last = stop or today
    found = []
    for rule in protocol.FORBIDDEN_MEDICATIONS:
        if not _matches(rule, name, atc, route) or last < study_start:
            continue
        first = max(start, study_start)
        if rule.days_before_pain_assessment is None:
            found.append(Finding(rule, first))
            continue
        before = timedelta(days=rule.days_before_pain_assessment)
        # Taken on a day from `days` before an assessment to the assessment itself.
        hit = sorted(a for a in pain_assessments if start <= a and last >= a - before)
        if hit:
            found.append(Finding(rule, max(start, hit[0] - before)))
    return found
