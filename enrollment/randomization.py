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
# Slots per arm in one block of each size: the protocol's allocation ratio, scaled.
RATIO = dict(zip(ARMS, protocol.ALLOCATION_RATIO, strict=True))


def arms_per_block(block_size: int) -> dict[str, int] | None:
    """How many slots of each arm a block of this size holds; None when the ratio does not
    divide it."""
    unit = sum(RATIO.values())
    if block_size <= 0 or block_size % unit:
        return None
    return {arm: block_size // unit * share for arm, share in RATIO.items()}


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
    allowed = protocol.RANDOMIZATION_BLOCK_SIZES
    if not block_sizes or any(b not in allowed for b in block_sizes):
        raise ListError(f"Block sizes must be among those the protocol names ({_listed(allowed)}).")
    rng = random.Random(seed)  # noqa: S311 - reproducible from the documented seed, by design
    slots: list[Slot] = []
    for stratum in strata(factors):
        sequence = block = 0
        while sequence < size:
            block += 1
            block_size = rng.choice(block_sizes)
            arms = [arm for arm, n in arms_per_block(block_size).items() for _ in range(n)]
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


def _listed(values) -> str:
    return ", ".join(map(str, values))


def parse_list(text: str, factors: tuple[str, ...] = protocol.STRATIFICATION_FACTORS) -> list[Slot]:
    """Read a list written by to_csv and check it against the protocol: a wrong list is
    refused, naming the line and the reason, never repaired."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(rows[0]) != HEADER:
        raise ListError(f"Line 1 must be: {','.join(HEADER)}")
    expected = set(strata(factors))
    slots: list[tuple[int, Slot]] = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(HEADER):
            raise ListError(f"Line {number}: expected {len(HEADER)} columns, found {len(row)}.")
        try:
            slot = Slot(row[0], int(row[1]), int(row[2]), int(row[3]), row[4])
        except ValueError:
            raise ListError(
                f"Line {number}: sequence, block and block_size must be whole numbers."
            ) from None
        if slot.stratum not in expected:
            raise ListError(
                f"Line {number}: stratum '{slot.stratum}' is not one of the protocol's "
                f"({_listed(sorted(expected)) or 'none: the list is not stratified'})."
            )
        if slot.arm not in ARMS:
            raise ListError(f"Line {number}: arm '{slot.arm}' is not one of {_listed(ARMS)}.")
        if slot.block_size not in protocol.RANDOMIZATION_BLOCK_SIZES:
            raise ListError(
                f"Line {number}: block size {slot.block_size} is not one the protocol names "
                f"({_listed(protocol.RANDOMIZATION_BLOCK_SIZES)})."
            )
        slots.append((number, slot))
    for stratum in sorted(expected):
        in_stratum = [(n, s) for n, s in slots if s.stratum == stratum]
        if not in_stratum:
            raise ListError(f"Stratum '{stratum}' has no slots.")
        _check_sequence(stratum, in_stratum)
        _check_blocks(stratum, in_stratum)
        if len(in_stratum) < minimum_size():
            raise ListError(
                f"Stratum '{stratum}' has {len(in_stratum)} slots; at least {minimum_size()} "
                "are needed."
            )
    return [s for _, s in slots]


def _check_sequence(stratum: str, in_stratum: list[tuple[int, Slot]]) -> None:
    """1, 2, 3, ... in file order: a repeated or skipped number is named with its line."""
    seen: dict[int, int] = {}
    for expected, (number, slot) in enumerate(in_stratum, start=1):
        if slot.sequence in seen:
            raise ListError(
                f"Line {number}: sequence {slot.sequence} of stratum '{stratum}' repeats "
                f"line {seen[slot.sequence]}."
            )
        if slot.sequence != expected:
            raise ListError(
                f"Line {number}: sequence {slot.sequence} of stratum '{stratum}' where "
                f"{expected} was expected (missing or out of order)."
            )
        seen[slot.sequence] = number


def _check_blocks(stratum: str, in_stratum: list[tuple[int, Slot]]) -> None:
    """Whole blocks, one after another, each balanced by the allocation ratio."""
    seen_blocks: set[int] = set()
    for block, members in itertools.groupby(in_stratum, key=lambda item: item[1].block):
        members = list(members)
        first, size = members[0][0], members[0][1].block_size
        if block in seen_blocks:
            raise ListError(f"Line {first}: block {block} of stratum '{stratum}' resumes.")
        seen_blocks.add(block)
        if any(s.block_size != size for _, s in members):
            raise ListError(f"Line {first}: block {block} mixes block sizes.")
        wanted = arms_per_block(size)
        counts = Counter(s.arm for _, s in members)
        if (
            len(members) != size
            or wanted is None
            or any(counts[arm] != n for arm, n in wanted.items())
        ):
            found = ", ".join(f"{arm} {counts[arm]}" for arm in ARMS)
            raise ListError(
                f"Line {first}: block {block} of stratum '{stratum}' is not a balanced block "
                f"of {size} ({found}; the ratio is {':'.join(map(str, RATIO.values()))})."
            )


def balance(slots: list[Slot]) -> dict[str, Counter]:
    """Arm counts per stratum."""
    report: dict[str, Counter] = {}
    for s in slots:
        report.setdefault(s.stratum, Counter())[s.arm] += 1
    return report
