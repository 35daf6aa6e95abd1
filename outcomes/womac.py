"""WOMAC LK3.1 (Likert) scoring (domain.md §1; protocol section "Outcomes").

24 items answered 0 (None) to 4 (Extreme), higher is worse: Pain P1-P5 (0-20), Stiffness
S1-S2 (0-8), Physical Function F1-F17 (0-68), Total 0-96. Items are identified by code, never by
position, because published orders differ (domain.md §1.2 FLAG).

Missing items: up to protocol.WOMAC_MAX_MISSING[subscale] missing items of a subscale take the
unrounded mean of that subscale's answered items; with more missing, the subscale is None. The
total exists only when all three subscales do. Normalised scores are raw / maximum × 100 (higher
is worse), labelled as such. Changing any rule here means a new ALGORITHM_VERSION, which is
stored with every score.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from trialsite import protocol

ALGORITHM_VERSION = "WOMAC-LK3.1/1"

ANSWERS = {0: "None", 1: "Mild", 2: "Moderate", 3: "Severe", 4: "Extreme"}


@dataclass(frozen=True)
class Item:
    code: str
    label: str
    subscale: str


# Form order of the licensed LK3.1 questionnaire (domain.md §1.2).
ITEMS = (
    Item("P1", "Walking on a flat surface", "pain"),
    Item("P2", "Going up or down stairs", "pain"),
    Item("P3", "At night while in bed", "pain"),
    Item("P4", "Sitting or lying", "pain"),
    Item("P5", "Standing upright", "pain"),
    Item("S1", "Stiffness after first wakening in the morning", "stiffness"),
    Item("S2", "Stiffness after sitting, lying or resting later in the day", "stiffness"),
    Item("F1", "Descending stairs", "function"),
    Item("F2", "Ascending stairs", "function"),
    Item("F3", "Rising from sitting", "function"),
    Item("F4", "Standing", "function"),
    Item("F5", "Bending to floor", "function"),
    Item("F6", "Walking on a flat surface", "function"),
    Item("F7", "Getting in or out of a car", "function"),
    Item("F8", "Going shopping", "function"),
    Item("F9", "Putting on socks or stockings", "function"),
    Item("F10", "Rising from bed", "function"),
    Item("F11", "Taking off socks or stockings", "function"),
    Item("F12", "Lying in bed", "function"),
    Item("F13", "Getting in or out of the bath", "function"),
    Item("F14", "Sitting", "function"),
    Item("F15", "Getting on or off the toilet", "function"),
    Item("F16", "Heavy domestic duties", "function"),
    Item("F17", "Light domestic duties", "function"),
)
CODES = tuple(item.code for item in ITEMS)
SUBSCALES = {
    name: tuple(i.code for i in ITEMS if i.subscale == name)
    for name in ("pain", "stiffness", "function")
}
MAXIMUM = {"pain": 20, "stiffness": 8, "function": 68, "total": 96}


class WomacError(ValueError):
    """An answer outside 0-4 or an unknown item code."""


@dataclass(frozen=True)
class WomacScore:
    pain: float | None
    stiffness: float | None
    function: float | None
    total: float | None
    imputed: tuple[str, ...]
    pain_normalised: float | None
    stiffness_normalised: float | None
    function_normalised: float | None
    total_normalised: float | None
    algorithm_version: str = ALGORITHM_VERSION


def _normalised(raw: float | None, scale: str) -> float | None:
    return None if raw is None else raw / MAXIMUM[scale] * 100


def _subscale(items: Mapping[str, int | None], name: str) -> tuple[float | None, list[str]]:
    codes = SUBSCALES[name]
    answered = [items[c] for c in codes if items.get(c) is not None]
    missing = [c for c in codes if items.get(c) is None]
    if not answered or len(missing) > protocol.WOMAC_MAX_MISSING[name]:
        return None, []
    mean = sum(answered) / len(answered)
    return float(sum(answered) + mean * len(missing)), missing


TITLES = {"pain": "Pain", "stiffness": "Stiffness", "function": "Physical function"}


def missing_summary(items: Mapping[str, int | None]) -> str:
    """In words, what unanswered items do to the scores: which subscales are imputed and which
    cannot be scored (more than protocol.WOMAC_MAX_MISSING items missing)."""
    parts = []
    for name, codes in SUBSCALES.items():
        missing = [c for c in codes if items.get(c) is None]
        if not missing:
            continue
        listed = ", ".join(missing)
        if len(missing) > protocol.WOMAC_MAX_MISSING[name] or len(missing) == len(codes):
            parts.append(f"{TITLES[name]} cannot be scored ({listed} unanswered)")
        else:
            parts.append(f"{TITLES[name]} is imputed from its answered items ({listed} unanswered)")
    return "Marked complete with unanswered items: " + "; ".join(parts) + "."


def score(items: Mapping[str, int | None]) -> WomacScore:
    """Score WOMAC LK3.1 from item codes ("P1" to "F17") to answers 0-4 (None when missing)."""
    unknown = sorted(set(items) - set(CODES))
    if unknown:
        raise WomacError(f"Unknown WOMAC item code(s): {', '.join(unknown)}.")
    for code, value in items.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 4:
            raise WomacError(
                f"{code}: the answer must be a whole number from 0 to 4, not {value!r}."
            )
    raw, imputed = {}, []
    for name in SUBSCALES:
        raw[name], filled = _subscale(items, name)
        imputed += filled
    total = None if None in raw.values() else raw["pain"] + raw["stiffness"] + raw["function"]
    return WomacScore(
        pain=raw["pain"],
        stiffness=raw["stiffness"],
        function=raw["function"],
        total=total,
        imputed=tuple(imputed),
        pain_normalised=_normalised(raw["pain"], "pain"),
        stiffness_normalised=_normalised(raw["stiffness"], "stiffness"),
        function_normalised=_normalised(raw["function"], "function"),
        total_normalised=_normalised(total, "total"),
    )
