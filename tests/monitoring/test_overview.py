"""A visit's status from its forms (monitoring.overview.visit_state): as far as its least
advanced form; incomplete once anything was entered; overdue or missed, by its schedule, when
nothing was."""

from pathlib import Path

import pytest
from django.conf import settings

from monitoring.overview import ICONS, VISIT_LABELS, forms_done, visit_state

N, P, C, V, S, L = "not_started", "in_progress", "complete", "verified", "signed", "locked"


@pytest.mark.parametrize(
    ("forms", "held", "schedule", "expected"),
    [
        ([N, N], False, "scheduled", "not_started"),
        ([N, N], False, "window_open", "not_started"),
        ([N, N], False, "overdue", "overdue"),
        ([N, N], False, "missed", "missed"),
        ([N, N], True, "completed", "incomplete"),  # a date alone is not a complete visit
        ([C, N], False, "overdue", "incomplete"),  # something entered: not "nothing entered"
        ([P, C], True, "completed", "incomplete"),
        ([C, C], True, "completed", "complete"),
        ([C, C], False, "window_open", "complete"),
        ([V, C], True, "completed", "complete"),
        ([V, V], True, "completed", "verified"),
        ([S, V], True, "completed", "verified"),
        ([S, S], True, "completed", "signed"),
        ([L, S], True, "completed", "signed"),
        ([L, L], True, "completed", "locked"),
        ([L, N], True, "completed", "incomplete"),
        ([], True, "completed", "complete"),  # a safety call: no forms, held
        ([], False, "overdue", "overdue"),
        ([], False, "scheduled", "not_started"),
    ],
)
def test_visit_state(forms, held, schedule, expected):
    assert visit_state(forms, held=held, schedule=schedule) == expected


@pytest.mark.parametrize(
    ("forms", "held", "expected"),
    [
        ([], True, "signed"),  # a safety call held, and a signature covers it
        ([], False, "not_started"),
        ([C, C], True, "complete"),  # with forms, their own statuses tell
    ],
)
def test_a_visit_that_collects_no_form_is_signed_once_a_signature_covers_it(forms, held, expected):
    assert visit_state(forms, held=held, signed=True) == expected


@pytest.mark.parametrize(
    ("forms", "words"),
    [
        ([], "no forms"),
        ([N], "0 of 1 form complete"),
        ([C, P], "1 of 2 forms complete"),
        ([V, S, L], "3 of 3 forms complete"),
    ],
)
def test_forms_done(forms, words):
    assert forms_done(forms) == words


def test_every_visit_status_has_its_own_shape_and_colour():
    shapes = [ICONS[status] for status in VISIT_LABELS]
    assert len(set(shapes)) == len(shapes)  # not by colour alone (WCAG 1.4.1)
    css = Path(settings.BASE_DIR, "static", "css", "trialsite.css").read_text()
    for status in VISIT_LABELS:
        assert f".status-{status}" in css, status
