"""Eligibility rules (enrollment/eligibility.py): every criterion on both sides of its boundary."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollment import eligibility
from enrollment.eligibility import age_on, bmi, decide
from monitoring.demo import eligible_answers
from trialsite import protocol

SCREENED = date(2026, 6, 15)


def born_years_ago(years: int, days_before_birthday: int = 0) -> date:
    """A date of birth making the candidate `years` old on SCREENED."""
    return date(SCREENED.year - years, SCREENED.month, SCREENED.day + days_before_birthday)


def answers(**overrides) -> dict:
    base = {"screening_date": SCREENED, "date_of_birth": born_years_ago(45)}
    return eligible_answers(**{**base, **overrides})


def failed(**overrides) -> tuple[str, ...]:
    decision = decide(answers(**overrides))
    assert decision.is_complete
    return decision.failed_criteria


def test_a_candidate_meeting_every_criterion_is_eligible():
    decision = decide(answers())
    assert decision.eligible is True
    assert decision.reasons == ()
    assert decision.protocol_version == protocol.PROTOCOL_VERSION


def test_age_counts_completed_years():
    assert age_on(date(1990, 6, 15), date(2026, 6, 15)) == 36
    assert age_on(date(1990, 6, 16), date(2026, 6, 15)) == 35
    assert age_on(date(1992, 2, 29), date(2026, 2, 28)) == 33


@pytest.mark.parametrize(
    ("dob", "eligible"),
    [
        (born_years_ago(29), False),
        (born_years_ago(30, days_before_birthday=1), False),  # 29, turns 30 tomorrow
        (born_years_ago(30), True),
        (born_years_ago(55), True),
        (born_years_ago(56, days_before_birthday=1), True),  # still 55
        (born_years_ago(56), False),
    ],
)
def test_age_limits(dob, eligible):
    assert ("age" not in failed(date_of_birth=dob)) is eligible


def test_an_age_failure_says_the_age_and_the_range():
    decision = decide(answers(date_of_birth=born_years_ago(56)))
    assert "Age 56 is outside 30-55 years." in decision.reasons


@pytest.mark.parametrize(("vas", "eligible"), [(0, False), (19, False), (20, True), (100, True)])
def test_vas_at_least_20_mm(vas, eligible):
    assert ("vas" not in failed(vas_index_knee_mm=vas)) is eligible


@pytest.mark.parametrize(
    ("grade", "eligible"), [(0, False), (1, False), (2, True), (3, True), (4, False)]
)
def test_kellgren_lawrence_grade_of_the_index_knee(grade, eligible):
    assert ("kl_grade" not in failed(index_knee="R", kl_grade_right=grade)) is eligible


def test_only_the_index_knee_grade_counts_unless_both_are_index():
    assert "kl_grade" not in failed(index_knee="R", kl_grade_right=2, kl_grade_left=4)
    assert "kl_grade" in failed(index_knee="B", kl_grade_right=2, kl_grade_left=4)
    assert "kl_grade" not in failed(index_knee="B", kl_grade_right=2, kl_grade_left=3)


def test_allowed_kl_grades_are_a_protocol_setting(monkeypatch):
    monkeypatch.setattr(protocol, "KL_GRADES_ALLOWED", (1, 2))
    assert "kl_grade" not in failed(kl_grade_right=1)
    assert "kl_grade" in failed(kl_grade_right=3)


def test_bmi_is_computed_to_one_decimal():
    assert bmi(Decimal("170"), Decimal("80")) == Decimal("27.7")
    assert bmi(180, 81) == Decimal("25.0")


def test_no_bmi_limit_by_default():
    assert "bmi" not in failed(height_cm=Decimal("150"), weight_kg=Decimal("120"))


@pytest.mark.parametrize(
    ("weight", "eligible"),
    [
        # Height 180 cm (3.24 m²); limits 16.1 and 24.9 compared with the exact BMI, not the
        # one-decimal BMI shown: at each limit, one gram below and one gram above.
        (Decimal("52.163"), False),  # 16.0999...
        (Decimal("52.164"), True),  # 16.1 exactly
        (Decimal("52.165"), True),
        (Decimal("80.675"), True),
        (Decimal("80.676"), True),  # 24.9 exactly
        (Decimal("80.677"), False),  # 24.9003..., shown as 24.9
        (Decimal("80.7"), False),  # 24.907..., shown as 24.9
    ],
)
def test_bmi_limits_when_the_protocol_sets_them(monkeypatch, weight, eligible):
    monkeypatch.setattr(protocol, "BMI_MIN", 16.1)
    monkeypatch.setattr(protocol, "BMI_MAX", 24.9)
    assert ("bmi" not in failed(height_cm=Decimal("180"), weight_kg=weight)) is eligible


CLINICAL_NONE = dict.fromkeys(eligibility.ACR_CLINICAL_ITEMS, False)


def test_acr_clinical_needs_three_of_six_findings():
    two = {**CLINICAL_NONE, "crepitus": True, "bony_tenderness": True}
    three = {**two, "bony_enlargement": True}
    assert "acr" in failed(osteophytes=False, **two)
    assert "acr" not in failed(osteophytes=False, **three)


def test_age_over_50_counts_as_a_clinical_finding():
    two = {**CLINICAL_NONE, "crepitus": True, "bony_tenderness": True}
    assert "acr" in failed(osteophytes=False, date_of_birth=born_years_ago(50), **two)
    assert "acr" not in failed(osteophytes=False, date_of_birth=born_years_ago(51), **two)


def test_acr_clinical_and_radiographic_needs_osteophytes_and_one_of_three():
    assert "acr" not in failed(osteophytes=True, **{**CLINICAL_NONE, "crepitus": True})
    assert "acr" in failed(osteophytes=True, **CLINICAL_NONE)
    assert "acr" in failed(osteophytes=False, **{**CLINICAL_NONE, "crepitus": True})


def test_acr_needs_knee_pain():
    assert "acr" in failed(knee_pain=False)


def test_accepted_acr_variants_are_a_protocol_setting(monkeypatch):
    monkeypatch.setattr(protocol, "ACR_VARIANTS_ACCEPTED", ("clinical",))
    radiographic_only = {**CLINICAL_NONE, "crepitus": True}
    assert "acr" in failed(osteophytes=True, **radiographic_only)


@pytest.mark.parametrize(
    "name",
    [
        "prior_lower_limb_surgery",
        "secondary_oa",
        "autoimmune_immunodeficiency_or_coagulation",
        "malignancy_history",
        "allergy",
    ],
)
def test_each_exclusion(name):
    extra = {"secondary_oa_cause": "old fracture"} if name == "secondary_oa" else {}
    criterion = "prior_surgery" if name == "prior_lower_limb_surgery" else name
    assert criterion in failed(**{name: True}, **extra)
    assert criterion not in failed(**{name: False})


def test_pregnancy_excludes_women_and_is_not_asked_of_men():
    assert "pregnant_or_breastfeeding" in failed(sex="F", pregnant_or_breastfeeding=True)
    assert "pregnant_or_breastfeeding" not in failed(sex="F", pregnant_or_breastfeeding=False)
    assert decide(answers(sex="F")).missing == ("pregnant_or_breastfeeding",)
    assert decide(answers(sex="M", pregnant_or_breastfeeding=None)).eligible is True


def test_the_cause_of_secondary_oa_is_asked_when_there_is_one():
    decision = decide(answers(secondary_oa=True, secondary_oa_cause=""))
    assert "secondary_oa_cause" in decision.missing


def test_unwillingness_excludes():
    assert "willing" in failed(willing=False)


def test_missing_answers_leave_the_decision_open_unless_something_already_fails():
    decision = decide(answers(vas_index_knee_mm=None))
    assert decision.eligible is None and decision.missing == ("vas_index_knee_mm",)
    decision = decide(answers(vas_index_knee_mm=None, allergy=True))
    assert decision.eligible is False


def test_every_failure_is_reported_not_just_the_first():
    decision = decide(answers(allergy=True, willing=False, vas_index_knee_mm=5))
    assert set(decision.failed_criteria) == {"allergy", "willing", "vas"}
    assert len(decision.reasons) == 3


# One way to fail each criterion, drawn by Hypothesis with a failing value.
FAILING = {
    "age": st.one_of(
        st.integers(18, protocol.AGE_MIN_YEARS - 1), st.integers(protocol.AGE_MAX_YEARS + 1, 90)
    ).map(lambda a: {"date_of_birth": born_years_ago(a)}),
    "vas": st.integers(0, protocol.VAS_MIN_MM_AT_SCREENING - 1).map(
        lambda v: {"vas_index_knee_mm": v}
    ),
    "kl_grade": st.sampled_from([g for g in range(5) if g not in protocol.KL_GRADES_ALLOWED]).map(
        lambda g: {"kl_grade_right": g}
    ),
    "acr": st.just({"knee_pain": False}),
    "prior_surgery": st.just({"prior_lower_limb_surgery": True}),
    "secondary_oa": st.text(min_size=1, max_size=20).map(
        lambda c: {"secondary_oa": True, "secondary_oa_cause": c}
    ),
    "autoimmune_immunodeficiency_or_coagulation": st.just(
        {"autoimmune_immunodeficiency_or_coagulation": True}
    ),
    "malignancy_history": st.just({"malignancy_history": True}),
    "allergy": st.just({"allergy": True}),
    "pregnant_or_breastfeeding": st.just({"sex": "F", "pregnant_or_breastfeeding": True}),
    "willing": st.just({"willing": False}),
}


@given(st.sampled_from(sorted(FAILING)).flatmap(lambda c: st.tuples(st.just(c), FAILING[c])))
def test_any_single_failed_criterion_makes_a_candidate_ineligible(case):
    criterion, overrides = case
    decision = decide(answers(**overrides))
    assert decision.eligible is False
    assert decision.failed_criteria == (criterion,)
    assert decision.reasons and all(r.strip() for r in decision.reasons)


def test_every_criterion_can_fail_and_has_a_label():
    assert set(FAILING) | {"bmi"} == set(eligibility.CRITERIA)
