"""Visit schedule arithmetic (protocol.VISIT_SCHEDULE; domain.md §0).

Pure functions, no database. Days count from the actual M0 injection date (the anchor) in
calendar days of the site's time zone: callers pass local dates. Until M0 is given, the
randomization date stands in as a provisional anchor.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from trialsite import protocol

UNSCHEDULED = "UNS"
VISIT_DEFS = {v.code: v for v in protocol.VISIT_SCHEDULE}
INJECTION_VISITS = ("M0", "M6")


class Status(StrEnum):
    SCHEDULED = "scheduled"
    WINDOW_OPEN = "window_open"
    OVERDUE = "overdue"
    COMPLETED = "completed"
    MISSED = "missed"


STATUS_LABELS = {
    Status.SCHEDULED: "Scheduled",
    Status.WINDOW_OPEN: "Window open",
    Status.OVERDUE: "Overdue",
    Status.COMPLETED: "Completed",
    Status.MISSED: "Missed",
}


@dataclass(frozen=True)
class Window:
    target: date
    opens: date
    closes: date

    def contains(self, day: date) -> bool:
        return self.opens <= day <= self.closes


def window(code: str, anchor: date) -> Window:
    """The target date and window of a scheduled visit, counted from the M0 anchor date."""
    visit = VISIT_DEFS[code]
    target = anchor + timedelta(days=visit.day)
    return Window(
        target=target,
        opens=target - timedelta(days=visit.days_before),
        closes=target + timedelta(days=visit.days_after),
    )


def status(window: Window | None, today: date, *, visit_date: date | None, missed: bool) -> Status:
    """A visit's status on `today` (a local date of the site)."""
    if visit_date is not None:
        return Status.COMPLETED
    if missed:
        return Status.MISSED
    if window is None or today < window.opens:
        return Status.SCHEDULED
    if today <= window.closes:
        return Status.WINDOW_OPEN
    return Status.OVERDUE


def crfs_due(code: str) -> tuple[str, ...]:
    return VISIT_DEFS[code].crfs if code in VISIT_DEFS else ()


def days_outside(window: Window, day: date) -> int:
    """How many days `day` lies before (negative) or after (positive) the window; 0 inside."""
    if day < window.opens:
        return (day - window.opens).days
    if day > window.closes:
        return (day - window.closes).days
    return 0
