"""Eligibility of a screened candidate (registry record "Eligibility Criteria"; domain.md §0, §3).

Pure functions, no database: `decide(answers)` takes the screening answers by name and returns
a Decision with every failed criterion as a reason in plain words. The limits come from
trialsite/protocol.py, and each Decision carries the protocol version that produced it.

Answers (None = not answered yet):
    screening_date, date_of_birth (date); sex ("F" or "M"); height_cm, weight_kg (numbers);
    index_knee ("L", "R" or "B"); kl_grade_left, kl_grade_right (0-4);
    ACR 1986 items (bool): knee_pain, morning_stiffness_under_30_min, crepitus,
        bony_tenderness, bony_enlargement, no_palpable_warmth, osteophytes;
    vas_index_knee_mm (0-100); prior_lower_limb_surgery, secondary_oa,
    autoimmune_immunodeficiency_or_coagulation, malignancy_history, allergy (bool);
    pregnant_or_breastfeeding (bool, asked only when sex is "F"); willing (bool).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from trialsite import protocol

ACR_CLINICAL = "clinical"
ACR_CLINICAL_RADIOGRAPHIC = "clinical_radiographic"
ACR_VARIANT_LABELS = {
    ACR_CLINICAL: "clinical (knee pain and at least 3 of 6 findings)",
    ACR_CLINICAL_RADIOGRAPHIC: "clinical and radiographic (knee pain, osteophytes and 1 of 3)",
}

# The six clinical findings of ACR 1986; "age over 50" is computed, not asked.
ACR_CLINICAL_ITEMS = (
    "morning_stiffness_under_30_min",
    "crepitus",
    "bony_tenderness",
    "bony_enlargement",
    "no_palpable_warmth",
)
ACR_RADIOGRAPHIC_ITEMS = ("morning_stiffness_under_30_min", "crepitus")

# Exclusions of the registry record: answer "yes" excludes.
EXCLUSIONS = {
    "secondary_oa": "Secondary knee OA (trauma, infection, rheumatoid arthritis, congenital or "
    "other inflammatory disease of the knee).",
    "autoimmune_immunodeficiency_or_coagulation": "Systemic autoimmune disorder, "
    "immunodeficiency or coagulation disorder.",
    "malignancy_history": "History of malignancy.",
    "allergy": "History of allergy or allergic constitution.",
    "pregnant_or_breastfeeding": "Pregnant or breastfeeding.",
}

# Every answer decide() reads, in the order of the screening form.
ANSWER_NAMES = (
    "screening_date",
    "date_of_birth",
    "sex",
    "height_cm",
    "weight_kg",
    "index_knee",
    "kl_grade_left",
    "kl_grade_right",
    "knee_pain",
    *ACR_CLINICAL_ITEMS,
    "osteophytes",
    "vas_index_knee_mm",
    "prior_lower_limb_surgery",
    "secondary_oa",
    "secondary_oa_cause",
    "autoimmune_immunodeficiency_or_coagulation",
    "malignancy_history",
    "allergy",
    "pregnant_or_breastfeeding",
    "willing",
)
# Asked only in some cases (see required_answers).
CONDITIONAL = ("secondary_oa_cause", "pregnant_or_breastfeeding")
ALWAYS_ASKED = tuple(name for name in ANSWER_NAMES if name not in CONDITIONAL)


# Criterion codes, for counting exclusions by reason (CONSORT).
CRITERIA = {
    "age": "Age outside the allowed range",
    "acr": "ACR knee-OA criteria not met",
    "kl_grade": "Kellgren-Lawrence grade not allowed",
    "vas": "VAS pain too low",
    "bmi": "BMI outside the allowed range",
    "prior_surgery": "Previous lower-limb surgery",
    "secondary_oa": "Secondary knee OA",
    "autoimmune_immunodeficiency_or_coagulation": (
        "Autoimmune, immunodeficiency or coagulation disorder"
    ),
    "malignancy_history": "History of malignancy",
    "allergy": "Allergy or allergic constitution",
    "pregnant_or_breastfeeding": "Pregnant or breastfeeding",
    "willing": "Not willing to take part",
}


@dataclass(frozen=True)
class Failure:
    criterion: str  # a key of CRITERIA
    reason: str  # in plain words, with the candidate's value


@dataclass(frozen=True)
class Decision:
    eligible: bool | None  # None while answers are missing
    failures: tuple[Failure, ...]  # every failed criterion
    missing: tuple[str, ...]  # answers still needed before a decision
    protocol_version: str = protocol.PROTOCOL_VERSION

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f.reason for f in self.failures)

    @property
    def failed_criteria(self) -> tuple[str, ...]:
        return tuple(f.criterion for f in self.failures)

    @property
    def is_complete(self) -> bool:
        return not self.missing


def age_on(date_of_birth: date, on: date) -> int:
    """Completed years of age on a date."""
    before_birthday = (on.month, on.day) < (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - before_birthday


def bmi_exact(height_cm: Decimal | float, weight_kg: Decimal | float) -> Fraction:
    """Body-mass index in kg/m², exactly (the protocol's limits are compared with this)."""
    metres = Fraction(str(height_cm)) / 100
    return Fraction(str(weight_kg)) / (metres * metres)


def bmi(height_cm: Decimal | float, weight_kg: Decimal | float) -> Decimal:
    """Body-mass index in kg/m², to one decimal (for showing)."""
    exact = bmi_exact(height_cm, weight_kg)
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )


def index_knees(index_knee: str) -> tuple[str, ...]:
    return {"L": ("left",), "R": ("right",), "B": ("left", "right")}[index_knee]


def required_answers(answers: Mapping[str, object]) -> tuple[str, ...]:
    """The names that must be answered, given what is answered so far (skip logic)."""
    needed = list(ALWAYS_ASKED)
    if answers.get("sex") == "F":
        needed.append("pregnant_or_breastfeeding")
    if answers.get("secondary_oa"):
        needed.append("secondary_oa_cause")
    return tuple(needed)


def acr_variants_met(answers: Mapping[str, object], age: int) -> set[str]:
    """Which ACR 1986 knee-OA variants the answers satisfy (domain.md §3.2)."""
    if not answers.get("knee_pain"):
        return set()
    over_50 = age > 50
    met = set()
    clinical = over_50 + sum(bool(answers.get(item)) for item in ACR_CLINICAL_ITEMS)
    if clinical >= 3:
        met.add(ACR_CLINICAL)
    radiographic = over_50 + sum(bool(answers.get(item)) for item in ACR_RADIOGRAPHIC_ITEMS)
    if answers.get("osteophytes") and radiographic >= 1:
        met.add(ACR_CLINICAL_RADIOGRAPHIC)
    return met


def decide(answers: Mapping[str, object]) -> Decision:
    """Decide eligibility from screening answers; see the module docstring for the names."""
    missing = tuple(name for name in required_answers(answers) if answers.get(name) in (None, ""))
    failures: list[Failure] = []

    def fail(criterion: str, reason: str) -> None:
        failures.append(Failure(criterion, reason))

    age = None
    if answers.get("date_of_birth") and answers.get("screening_date"):
        age = age_on(answers["date_of_birth"], answers["screening_date"])
        if not protocol.AGE_MIN_YEARS <= age <= protocol.AGE_MAX_YEARS:
            fail(
                "age",
                f"Age {age} is outside {protocol.AGE_MIN_YEARS}-{protocol.AGE_MAX_YEARS} years.",
            )

    if age is not None and not {"knee_pain", *ACR_CLINICAL_ITEMS, "osteophytes"} & set(missing):
        accepted = set(protocol.ACR_VARIANTS_ACCEPTED)
        if not acr_variants_met(answers, age) & accepted:
            names = " or ".join(ACR_VARIANT_LABELS[v] for v in protocol.ACR_VARIANTS_ACCEPTED)
            fail("acr", f"ACR 1986 criteria for knee OA not met: needs {names}.")

    if answers.get("index_knee") in ("L", "R", "B"):
        allowed = protocol.KL_GRADES_ALLOWED
        for side in index_knees(answers["index_knee"]):
            grade = answers.get(f"kl_grade_{side}")
            if grade is not None and grade not in allowed:
                fail(
                    "kl_grade",
                    f"Kellgren-Lawrence grade {grade} of the {side} knee is not one of "
                    f"{', '.join(map(str, allowed))}.",
                )

    vas = answers.get("vas_index_knee_mm")
    if vas is not None and vas < protocol.VAS_MIN_MM_AT_SCREENING:
        fail("vas", f"VAS pain {vas} mm is below {protocol.VAS_MIN_MM_AT_SCREENING} mm.")

    if answers.get("height_cm") and answers.get("weight_kg"):
        exact = bmi_exact(answers["height_cm"], answers["weight_kg"])
        value = bmi(answers["height_cm"], answers["weight_kg"])  # as shown
        if protocol.BMI_MIN is not None and exact < Fraction(str(protocol.BMI_MIN)):
            fail("bmi", f"BMI {value} is below {protocol.BMI_MIN}.")
        if protocol.BMI_MAX is not None and exact > Fraction(str(protocol.BMI_MAX)):
            fail("bmi", f"BMI {value} is above {protocol.BMI_MAX}.")

    if answers.get("prior_lower_limb_surgery"):
        fail("prior_surgery", "Previous surgery on a lower limb.")
    for name, text in EXCLUSIONS.items():
        if name == "pregnant_or_breastfeeding" and answers.get("sex") != "F":
            continue
        if answers.get(name):
            fail(name, text)
    if answers.get("willing") is False:
        fail("willing", "Not willing to take part.")

    if failures:
        return Decision(eligible=False, failures=tuple(failures), missing=missing)
    return Decision(eligible=None if missing else True, failures=(), missing=missing)
