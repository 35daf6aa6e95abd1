"""Randomization lists: permuted blocks of random size, 1:1, optionally stratified (domain.md §9).

Pure functions, no database. `make_list` generates a list from a seed; `parse_list` reads one
back and checks it; `stratum_for` names a candidate's stratum from screening answers; `balance`
counts arms per stratum. Stratification factors are named in protocol.STRATIFICATION_FACTORS
and defined in FACTORS below.
"""

import csv
import io
import itertools
import math
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from enrollment.eligibility import index_knees
from trialsite import protocol

ARMS = tuple(arm.code for arm in protocol.ARMS)
HEADER = ("stratum", "sequence", "block", "block_size", "arm")


@dataclass(frozen=True)
class Factor:
    levels: tuple[str, ...]
    level_of: Callable[[Mapping[str, object]], str]


def _index_kl(answers: Mapping[str, object]) -> str:
    """The highest KL grade of the index knee(s)."""
    return str(max(answers[f"kl_grade_{side}"] for side in index_knees(answers["index_knee"])))


# Factors the protocol may name; each maps screening answers to a level.
FACTORS: dict[str, Factor] = {
    "kl_grade": Factor(levels=("0", "1", "2", "3", "4"), level_of=_index_kl),
    "sex": Factor(levels=("F", "M"), level_of=lambda a: str(a["sex"])),
}


@dataclass(frozen=True)
class Slot:
    stratum: str
    sequence: int
    block: int
    block_size: int
    arm: str


class ListError(ValueError):
    pass


def strata(factors: tuple[str, ...] = protocol.STRATIFICATION_FACTORS) -> list[str]:
    """Every stratum name: "" when unstratified, else e.g. "kl_grade=2|sex=F"."""
    if not factors:
        return [""]
    levels = [[f"{name}={level}" for level in FACTORS[name].levels] for name in factors]
    return ["|".join(combo) for combo in itertools.product(*levels)]


def stratum_for(
    answers: Mapping[str, object], factors: tuple[str, ...] = protocol.STRATIFICATION_FACTORS
) -> str:
    return "|".join(f"{name}={FACTORS[name].level_of(answers)}" for name in factors)


def minimum_size(target: int = protocol.TARGET_ENROLLMENT) -> int:
    return math.ceil(target * protocol.RANDOMIZATION_LIST_FACTOR)


def make_list(
    *,
    seed: int,
    size: int,
    factors: tuple[str, ...] = protocol.STRATIFICATION_FACTORS,
    block_sizes: tuple[int, ...] = protocol.RANDOMIZATION_BLOCK_SIZES,
) -> list[Slot]:
    """At least `size` slots per stratum, in whole permuted blocks of randomly chosen size."""
    if size < minimum_size():
        raise ListError(
            f"A list needs at least {minimum_size()} slots per stratum "
            f"({protocol.RANDOMIZATION_LIST_FACTOR} × target enrollment)."
        )
    if any(b <= 0 or b % len(ARMS) for b in block_sizes):
        raise ListError(f"Block sizes must be positive multiples of {len(ARMS)}.")
    rng = random.Random(seed)  # noqa: S311 - reproducible from the documented seed, by design
    slots: list[Slot] = []
    for stratum in strata(factors):
        sequence = block = 0
        while sequence < size:
            block += 1
            block_size = rng.choice(block_sizes)
            arms = list(ARMS) * (block_size // len(ARMS))
            rng.shuffle(arms)
            for arm in arms:
                sequence += 1
                slots.append(Slot(stratum, sequence, block, block_size, arm))
    return slots


def to_csv(slots: list[Slot]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for s in slots:
        writer.writerow((s.stratum, s.sequence, s.block, s.block_size, s.arm))
    return out.getvalue()


def parse_list(text: str, factors: tuple[str, ...] = protocol.STRATIFICATION_FACTORS) -> list[Slot]:
    """Read a list written by to_csv and check it: a wrong list is refused, not repaired."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(rows[0]) != HEADER:
        raise ListError(f"The first line must be: {','.join(HEADER)}")
    slots = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(HEADER):
            raise ListError(f"Line {number}: expected {len(HEADER)} columns.")
        try:
            slot = Slot(row[0], int(row[1]), int(row[2]), int(row[3]), row[4])
        except ValueError:
            raise ListError(
                f"Line {number}: sequence, block and block_size must be numbers."
            ) from None
        if slot.arm not in ARMS:
            raise ListError(f"Line {number}: arm must be one of {', '.join(ARMS)}.")
        slots.append(slot)

    expected = set(strata(factors))
    found = {s.stratum for s in slots}
    if found != expected:
        raise ListError(
            f"Strata in the file ({', '.join(sorted(found)) or 'none'}) do not match the "
            f"protocol's ({', '.join(sorted(expected))})."
        )
    for stratum in expected:
        in_stratum = [s for s in slots if s.stratum == stratum]
        if [s.sequence for s in in_stratum] != list(range(1, len(in_stratum) + 1)):
            raise ListError(f"Stratum '{stratum}': sequence must run 1, 2, 3, … without gaps.")
        if len(in_stratum) < minimum_size():
            raise ListError(
                f"Stratum '{stratum}' has {len(in_stratum)} slots; at least {minimum_size()} "
                "are needed."
            )
        for _, block_slots in itertools.groupby(in_stratum, key=lambda s: s.block):
            block_slots = list(block_slots)
            counts = Counter(s.arm for s in block_slots)
            if (
                len(block_slots) != block_slots[0].block_size
                or len(set(counts.values())) > 1
                or (len(counts) != len(ARMS))
            ):
                raise ListError(
                    f"Stratum '{stratum}', block {block_slots[0].block}: not a balanced block "
                    f"of {block_slots[0].block_size}."
                )
    return slots


def balance(slots: list[Slot]) -> dict[str, Counter]:
    """Arm counts per stratum."""
    report: dict[str, Counter] = {}
    for s in slots:
        report.setdefault(s.stratum, Counter())[s.arm] += 1
    return report
