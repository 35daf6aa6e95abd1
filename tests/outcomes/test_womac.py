"""WOMAC LK3.1: scoring (outcomes/womac.py), the CRF and its service, keyboard-only entry."""

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import assume, given
from hypothesis import strategies as st
from playwright.sync_api import expect

from monitoring.models import DataQuery
from outcomes import womac
from outcomes.models import Womac
from outcomes.womac import CODES, SUBSCALES, WomacError, score
from tests import factories
from tests.helpers import form_url, log_in, screenshot
from tests.helpers import womac_post as post_data
from trialsite import protocol, roles
from trialsite.audit.models import AuditEvent
from visits.models import Visit


def answers(value=None, **overrides):
    return {**dict.fromkeys(CODES, value), **overrides}


def without(items, *codes):
    return {**items, **dict.fromkeys(codes, None)}


PAIN_1234 = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}


@pytest.mark.parametrize(
    ("items", "expected", "imputed"),
    [
        (answers(2), (10, 4, 34, 48), ()),
        (answers(0), (0, 0, 0, 0), ()),
        (answers(4), (20, 8, 68, 96), ()),
        # Pain: one missing (the limit) takes the mean of the other four; two missing: invalid.
        (answers(2, **PAIN_1234, P5=None), (12.5, 4, 34, 50.5), ("P5",)),
        (without(answers(2), "P1", "P2"), (None, 4, 34, None), ()),
        # Stiffness: one missing takes the other; both missing: invalid.
        (answers(2, S1=3, S2=None), (10, 6, 34, 50), ("S2",)),
        (without(answers(2), "S1", "S2"), (10, None, 34, None), ()),
        # Function: three missing are imputed (see below); four make it invalid.
        (answers(2, F15=None, F16=None, F17=None), (10, 4, 34, 48), ("F15", "F16", "F17")),
        (without(answers(2), "F1", "F2", "F3", "F4"), (10, 4, None, None), ()),
    ],
)
def test_scoring_table(items, expected, imputed):
    result = score(items)
    assert (result.pain, result.stiffness, result.function, result.total) == expected
    assert result.imputed == imputed
    assert result.algorithm_version == womac.ALGORITHM_VERSION


def test_function_imputation_uses_the_unrounded_mean():
    result = score(answers(1, F1=4, F15=None, F16=None, F17=None))
    mean = (4 + 13 * 1) / 14
    assert result.function == pytest.approx(17 + 3 * mean)
    assert result.imputed == ("F15", "F16", "F17")
    assert result.total == pytest.approx(5 + 2 + 17 + 3 * mean)


def test_normalised_scores_are_raw_over_maximum_times_100():
    result = score(answers(1))
    assert result.pain_normalised == pytest.approx(25)
    assert result.stiffness_normalised == pytest.approx(25)
    assert result.function_normalised == pytest.approx(25)
    assert result.total_normalised == pytest.approx(25)
    assert score(without(answers(1), "S1", "S2")).total_normalised is None


def test_missing_item_limits_are_protocol_settings(monkeypatch):
    monkeypatch.setitem(protocol.WOMAC_MAX_MISSING, "pain", 0)
    assert score(answers(2, P5=None)).pain is None


def test_an_empty_questionnaire_has_no_scores():
    result = score({})
    assert (result.pain, result.stiffness, result.function, result.total) == (None,) * 4


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ({"P6": 1}, "Unknown WOMAC item"),
        ({"p1": 1}, "Unknown WOMAC item"),
        ({"P1": 5}, "from 0 to 4"),
        ({"P1": -1}, "from 0 to 4"),
        ({"P1": "2"}, "from 0 to 4"),
        ({"P1": 2.0}, "from 0 to 4"),
        ({"P1": True}, "from 0 to 4"),
    ],
)
def test_bad_input_is_an_error_not_a_silent_zero(items, message):
    with pytest.raises(WomacError, match=message):
        score(items)


item_answers = st.fixed_dictionaries(
    {code: st.one_of(st.none(), st.integers(0, 4)) for code in CODES}
)


@given(item_answers)
def test_every_score_is_within_its_range(items):
    result = score(items)
    for name, maximum in womac.MAXIMUM.items():
        value = getattr(result, name)
        normalised = getattr(result, f"{name}_normalised")
        assert value is None or 0 <= value <= maximum
        assert normalised is None or 0 <= normalised <= 100
    assert (result.total is None) == any(getattr(result, name) is None for name in SUBSCALES)


@given(item_answers, st.sampled_from(CODES))
def test_no_score_goes_down_when_one_answer_goes_up(items, code):
    assume(items[code] is not None and items[code] < 4)
    before = score(items)
    after = score({**items, code: items[code] + 1})
    for name in ("pain", "stiffness", "function", "total"):
        old, new = getattr(before, name), getattr(after, name)
        assert (old is None) == (new is None)
        if old is not None:
            assert new >= old - 1e-9


# --- The CRF --------------------------------------------------------------------------------------
@pytest.fixture
def m1(lahore, coordinator):
    """M1 of a participant randomized 30 days ago: its window (day 30 ± 7) is open today."""
    participant = factories.participant_with_visits(
        site=lahore, by=coordinator, randomized_at=timezone.now() - timedelta(days=30)
    )
    return Visit.objects.get(participant=participant, code="M1")


def url(visit):
    return form_url("womac", visit=visit)


@pytest.mark.django_db
def test_saving_the_form_stores_the_scores_and_changing_an_item_recomputes_them(
    client, coordinator, m1
):
    client.force_login(coordinator)
    assert client.post(url(m1), post_data(mark_complete="on")).status_code == 302
    crf = Womac.objects.get(visit=m1)
    assert (crf.pain, crf.total, crf.algorithm_version) == (10, 48, womac.ALGORITHM_VERSION)
    response = client.post(
        url(m1), post_data(version=1, mark_complete="on", p1="4", reason_for_change="misread")
    )
    assert response.status_code == 302
    crf.refresh_from_db()
    assert (crf.p1, crf.pain, crf.total) == (4, 12, 50)
    event = AuditEvent.objects.filter(table_name="outcomes_womac").last()
    assert ("pain", 10.0, 12.0) in event.changes() and event.reason == "misread"


@pytest.mark.django_db
def test_missing_items_are_imputed_and_shown(client, coordinator, m1):
    client.force_login(coordinator)
    client.post(url(m1), post_data(p5=""))
    crf = Womac.objects.get(visit=m1)
    assert crf.p5 is None and crf.imputed_items == ["P5"] and crf.pain == 10
    assert "imputed: P5" in client.get(url(m1)).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"), [("p1", "5"), ("p1", "-1"), ("f17", "two"), ("knee", ""), ("knee", "B")]
)
def test_bad_answers_are_refused_next_to_the_item(client, coordinator, m1, field, value):
    client.force_login(coordinator)
    response = client.post(url(m1), post_data(**{field: value}))
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert response.context["form"]["f1"].value() == "2"  # the rest is kept
    assert not Womac.objects.filter(visit=m1).exists()


@pytest.mark.django_db
def test_the_form_lists_the_items_in_form_order_with_answer_labels(client, coordinator, m1):
    client.force_login(coordinator)
    form = client.get(url(m1)).context["form"]
    items = [name for name in form.fields if name[0] in "psf" and name[1:].isdigit()]
    assert items == [code.lower() for code in CODES]
    assert form.fields["p1"].label == "P1. Walking on a flat surface"
    assert [label for _, label in form.fields["f17"].choices] == [
        "0 None",
        "1 Mild",
        "2 Moderate",
        "3 Severe",
        "4 Extreme",
    ]


# --- In the browser (Playwright driving Debian's Chromium) --------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_full_womac_entered_with_the_keyboard_only(live_server, page):
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    participant = factories.participant_with_visits(
        site=site, by=coordinator, randomized_at=timezone.now() - timedelta(days=30)
    )
    m1 = participant.visits.get(code="M1")  # its window is open today
    wanted = {code: (i * 3) % 5 for i, code in enumerate(womac.CODES)}

    log_in(page, live_server.url, "coordinator")
    page.goto(f"{live_server.url}{url(m1)}")
    # The first question takes the focus; from here on only keys are pressed.
    expect(page.locator("#id_knee_0")).to_be_focused()
    page.keyboard.press("ArrowRight")  # knee: Left -> Right
    for code in womac.CODES:
        page.keyboard.press("Tab")
        if wanted[code] == 0:
            page.keyboard.press("Space")
        for _ in range(wanted[code]):
            page.keyboard.press("ArrowRight")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # form complete
    screenshot(page, "womac-keyboard.png")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Save
    expect(page.get_by_text("WOMAC saved.")).to_be_visible()
    expect(page.get_by_test_id("womac-scores")).to_be_visible()

    crf = Womac.objects.get(visit=m1)
    assert crf.knee == "R" and crf.is_complete
    assert crf.items() == wanted
    expected = womac.score(wanted)
    assert (crf.pain, crf.stiffness, crf.function, crf.total) == (
        expected.pain,
        expected.stiffness,
        expected.function,
        expected.total,
    )


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_number_keys_answer_the_womac_in_at_most_30_key_presses(live_server, page):
    """Issue 16, point 7: typing an answer's number chooses it and moves to the next item."""
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    participant = factories.participant_with_visits(
        site=site, by=coordinator, randomized_at=timezone.now() - timedelta(days=30)
    )
    m1 = participant.visits.get(code="M1")
    wanted = {code: (i * 2 + 1) % 5 for i, code in enumerate(womac.CODES)}
    log_in(page, live_server.url, "coordinator")
    page.goto(f"{live_server.url}{url(m1)}")
    expect(page.locator("#id_knee_0")).to_be_focused()
    presses = []

    def press(key):
        presses.append(key)
        page.keyboard.press(key)

    press("ArrowRight")  # knee: Right
    press("Tab")  # to the first item
    for code in womac.CODES:
        press(str(wanted[code]))  # answers and moves on
    expect(page.get_by_label("Form complete")).to_be_focused()
    press("Space")
    press("Tab")  # to Save
    press("Enter")
    expect(page.get_by_text("WOMAC saved.")).to_be_visible()
    assert len(presses) <= 30
    crf = Womac.objects.get(visit=m1)
    assert crf.knee == "R" and crf.is_complete and crf.items() == wanted


@pytest.mark.parametrize(
    ("blank", "message"),
    [
        (["p5"], "Pain is imputed from its answered items (P5 unanswered)"),  # 1 allowed
        (["p4", "p5"], "Pain cannot be scored (P4, P5 unanswered)"),
        (["f1", "f2", "f3"], "Physical function is imputed from its answered items"),  # 3 allowed
        (["f1", "f2", "f3", "f4"], "Physical function cannot be scored"),
        (["s1"], "Stiffness is imputed from its answered items (S1 unanswered)"),
        (["s1", "s2"], "Stiffness cannot be scored"),
    ],
)
def test_a_womac_marked_complete_with_missing_items_asks_first(
    client, coordinator, m1, blank, message
):
    """Issue 15, point 5: imputation is never silent on a form said to be complete."""
    client.force_login(coordinator)
    answers = post_data(mark_complete="on", **dict.fromkeys(blank, ""))
    response = client.post(url(m1), answers)
    assert response.status_code == 400 and not Womac.objects.filter(visit=m1).exists()
    assert message in " ".join(response.context["form"].errors[blank[0]])
    response = client.post(url(m1), {**answers, "confirm_unusual": "on"})
    assert response.status_code == 302
    assert DataQuery.objects.get(row_pk=str(Womac.objects.get(visit=m1).pk)).field == blank[0]


def test_a_womac_in_progress_with_missing_items_is_saved_without_a_question(
    client, coordinator, m1
):
    client.force_login(coordinator)
    assert client.post(url(m1), post_data(p5="")).status_code == 302
    assert not DataQuery.objects.exists()
