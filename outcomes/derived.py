"""Derived outcome values: change from baseline and OMERACT-OARSI responder status.

Pure functions, no database. Scores are on the scales given (VAS mm 0-100; WOMAC subscales
normalised 0-100 for the responder rule); higher is worse, so improvement = baseline - value.
"""

from trialsite import protocol


def change(baseline: float | None, value: float | None) -> float | None:
    """Value minus baseline (negative = improvement); None when either is missing."""
    if baseline is None or value is None:
        return None
    return value - baseline


def _improved(baseline: float, value: float, rule: dict) -> bool:
    gain = baseline - value
    relative = gain / baseline if baseline else 0.0
    return gain >= rule["absolute"] and relative >= rule["relative"]


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
