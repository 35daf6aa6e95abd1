"""Visit windows (visits/schedule.py): every boundary, from the M0 date."""

from datetime import date, timedelta

import pytest

from visits import schedule
from visits.schedule import Status

M0 = date(2026, 1, 15)

# The protocol's schedule, written out independently of trialsite/protocol.py.
EXPECTED = {
    "SCR": (0, 28, 0),
    "M0": (0, 0, 0),
    "W1": (7, 3, 3),
    "M1": (30, 7, 7),
    "M3": (90, 14, 14),
    "M6": (180, 14, 14),
    "M6W1": (187, 3, 3),
    "M9": (270, 14, 14),
    "M12": (365, 21, 21),
}


@pytest.mark.parametrize(("code", "days"), EXPECTED.items())
def test_every_window_counts_from_the_m0_date(code, days):
    day, before, after = days
    w = schedule.window(code, M0)
    assert w.target == M0 + timedelta(days=day)
    assert w.opens == w.target - timedelta(days=before)
    assert w.closes == w.target + timedelta(days=after)


def test_the_schedule_has_exactly_these_visits():
    assert list(schedule.VISIT_DEFS) == list(EXPECTED)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (-1, Status.SCHEDULED),  # the day before the window opens
        (0, Status.WINDOW_OPEN),  # the day it opens
        (6, Status.WINDOW_OPEN),  # the day it closes (W1: day 4 to day 10)
        (7, Status.OVERDUE),  # the day after
    ],
)
def test_status_at_each_window_boundary(offset, expected):
    w = schedule.window("W1", M0)
    assert (w.opens, w.closes) == (date(2026, 1, 19), date(2026, 1, 25))
    today = w.opens + timedelta(days=offset)
    assert schedule.status(w, today, visit_date=None, missed=False) == expected


def test_completed_and_missed_override_the_calendar():
    w = schedule.window("M1", M0)
    late = w.closes + timedelta(days=30)
    assert schedule.status(w, late, visit_date=w.target, missed=False) == Status.COMPLETED
    assert schedule.status(w, late, visit_date=None, missed=True) == Status.MISSED
    assert schedule.status(None, late, visit_date=None, missed=False) == Status.SCHEDULED


def test_windows_move_with_the_m0_date():
    later = M0 + timedelta(days=5)
    assert schedule.window("M3", later).target - schedule.window("M3", M0).target == timedelta(5)


def test_a_window_crossing_a_leap_day_counts_calendar_days():
    w = schedule.window("M1", date(2028, 2, 1))
    assert w.target == date(2028, 3, 2)


@pytest.mark.parametrize(("offset", "outside"), [(-2, -2), (-1, -1), (0, 0), (14, 0), (15, 1)])
def test_days_outside_a_window(offset, outside):
    w = schedule.window("M1", M0)  # opens day 23, closes day 37
    assert schedule.days_outside(w, w.opens + timedelta(days=offset)) == outside


def test_crfs_due_per_visit():
    assert "injection" in schedule.crfs_due("M0") and "injection" in schedule.crfs_due("M6")
    assert "injection" not in schedule.crfs_due("M1")
    assert schedule.crfs_due(schedule.UNSCHEDULED) == ()
