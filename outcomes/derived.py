"""Derived outcome values: change from baseline and OMERACT-OARSI responder status.

Pure functions, no database. Scores are on the scales given (VAS mm 0-100; WOMAC subscales
normalised 0-100 for the responder rule); higher is worse, so improvement = baseline - value.

Arithmetic is exact (Fraction): a WOMAC score is a ratio of small whole numbers (items summed,
imputed by a mean over at most 17 items, scaled by 100 / maximum), so the nearest fraction with
a small denominator to a stored float is the score itself. An improvement of exactly 20 % is
then 20 %, not 19.999999999999996 %.
"""

from decimal import Decimal
from fractions import Fraction

from trialsite import protocol

Number = int | float | Decimal | Fraction


def exact(value: Number) -> Fraction:
    """The exact score a stored number stands for."""
    if isinstance(value, float):
        return Fraction(value).limit_denominator(100_000)
    return Fraction(str(value)) if isinstance(value, Decimal) else Fraction(value)


def change(baseline: Number | None, value: Number | None) -> float | None:
    """Value minus baseline (negative = improvement); None when either is missing."""
    if baseline is None or value is None:
        return None
    return float(exact(value) - exact(baseline))


def _improved(baseline: Number, value: Number, rule: dict) -> bool:
    base = exact(baseline)
    gain = base - exact(value)
    relative = gain / base if base else Fraction(0)
    return gain >= Fraction(str(rule["absolute"])) and relative >= Fraction(str(rule["relative"]))


def oarsi_responder(
    pain_baseline: float | None,
    pain: float | None,
    function_baseline: float | None,
    function: float | None,
) -> bool | None:
    """OMERACT-OARSI responder on 0-100 scales, or None when it cannot be decided.

    Responder: high improvement in pain or in function; or moderate improvement in two of
    pain, function and patient global assessment. Patient global is not collected, so with
    exactly one of pain and function moderately improved the answer is unknown (None).
    """
    if None in (pain_baseline, pain, function_baseline, function):
        return None
    high, moderate = protocol.OARSI_HIGH, protocol.OARSI_MODERATE
    if _improved(pain_baseline, pain, high) or _improved(function_baseline, function, high):
        return True
    pain_ok = _improved(pain_baseline, pain, moderate)
    function_ok = _improved(function_baseline, function, moderate)
    if pain_ok and function_ok:
        return True
    if pain_ok or function_ok:
        return None
    return False
