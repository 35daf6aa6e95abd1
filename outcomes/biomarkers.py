"""Synovial fluid biomarkers: IL-1β, TNF-α, IL-6 and MMP-13 (domain.md §5).

Pure functions, no database. The result as the lab reported it ("<3.9", "125.4") is kept as
text and never overwritten; the numeric value in pg/mL is derived from it. A result below the
LLOQ or above the ULOQ is flagged; below the LLOQ it has no numeric value (SDTM LBSTRESN empty),
since imputation belongs to the statistical analysis plan.
"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

ANALYTES = {"il1b": "IL-1β", "tnfa": "TNF-α", "il6": "IL-6", "mmp13": "MMP-13"}
# Factor to pg/mL.
UNITS = {"pg/mL": Decimal(1), "ng/mL": Decimal(1000), "µg/mL": Decimal(1_000_000)}
DEFAULT_UNIT = "pg/mL"

BLQ = "BLQ"
ALQ = "ALQ"

_REPORTED = re.compile(r"^\s*([<>]=?)?\s*(\d+(?:\.\d+)?)\s*$")


class ResultError(ValueError):
    pass


@dataclass(frozen=True)
class Result:
    qualifier: str  # "", "<", "<=", ">" or ">="
    value: Decimal  # the number as reported, in the reported unit
    pg_ml: Decimal | None  # converted; None when below the LLOQ
    flag: str  # "", BLQ or ALQ


def parse_reported(text: str) -> tuple[str, Decimal]:
    """Split "<3.9" into ("<", 3.9). Anything else than an optional sign and a number is an
    error."""
    match = _REPORTED.match(text or "")
    if not match:
        raise ResultError("Enter the result as reported, e.g. 12.5, <3.9 or >2000.")
    try:
        return match.group(1) or "", Decimal(match.group(2))
    except InvalidOperation:
        raise ResultError("Enter the result as reported, e.g. 12.5, <3.9 or >2000.") from None


def to_pg_ml(value: Decimal, unit: str) -> Decimal:
    if unit not in UNITS:
        raise ResultError(f"Unknown unit {unit}; use one of {', '.join(UNITS)}.")
    return value * UNITS[unit]


def interpret(reported: str, unit: str, lloq: Decimal | None, uloq: Decimal | None) -> Result:
    """The numeric result in pg/mL and its quantification flag. Limits are in `unit`."""
    qualifier, value = parse_reported(reported)
    if lloq is not None and uloq is not None and lloq >= uloq:
        raise ResultError("The LLOQ must be below the ULOQ.")
    below = qualifier.startswith("<") or (lloq is not None and value < lloq)
    above = qualifier.startswith(">") or (uloq is not None and value > uloq)
    if below:
        return Result(qualifier, value, None, BLQ)
    return Result(qualifier, value, to_pg_ml(value, unit), ALQ if above else "")
