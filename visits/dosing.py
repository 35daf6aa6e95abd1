"""Product rules for the injection and PRGF CRFs (registry "Study Groups"; domain.md §10).

Pure functions, no database. Doses per arm come from protocol.ARMS.
"""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from trialsite import protocol

ARMS = {arm.code: arm for arm in protocol.ARMS}

NO_PRGF_IN_ARM_A = "This participant's arm receives no PRGF: leave the PRGF fields empty."
PRGF_VOLUME_NEEDED = "Enter the PRGF volume injected."
PRGF_PREPARATION_NEEDED = "Record the PRGF preparation of this visit first."


def volume_deviations(arm_code: str, secretome_ml: Decimal, prgf_ml: Decimal | None) -> list[str]:
    """How the injected volumes differ from the protocol dose of the arm, in words."""
    arm = ARMS[arm_code]
    found = []
    if secretome_ml != arm.secretome_ml:
        found.append(f"secretome {secretome_ml} mL instead of {arm.secretome_ml} mL")
    if arm.prgf_ml and prgf_ml is not None and prgf_ml != arm.prgf_ml:
        found.append(f"PRGF {prgf_ml} mL instead of {arm.prgf_ml} mL")
    return found


def check_injection(
    arm_code: str,
    *,
    secretome_ml: Decimal | None,
    prgf_ml: Decimal | None,
    has_prgf_preparation: bool,
    deviation_reason: str,
) -> dict[str, str]:
    """Errors by field name; empty when the injection may be saved."""
    arm = ARMS[arm_code]
    errors = {}
    if not arm.prgf_ml:
        if prgf_ml is not None or has_prgf_preparation:
            errors["prgf_volume_ml"] = NO_PRGF_IN_ARM_A
    else:
        if prgf_ml is None:
            errors["prgf_volume_ml"] = PRGF_VOLUME_NEEDED
        if not has_prgf_preparation:
            errors["prgf_preparation"] = PRGF_PREPARATION_NEEDED
    if secretome_ml is not None and "prgf_volume_ml" not in errors:
        differences = volume_deviations(arm_code, secretome_ml, prgf_ml)
        if differences and not deviation_reason.strip():
            errors["deviation_reason"] = (
                f"The dose differs from the protocol ({'; '.join(differences)}). Give the "
                "reason: it is recorded as a protocol deviation."
            )
    return errors


def total_volume(secretome_ml: Decimal, prgf_ml: Decimal | None) -> Decimal:
    return secretome_ml + (prgf_ml or Decimal("0"))


def minutes_between(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 60)


def prgf_time_exceeded(minutes: int) -> bool:
    return minutes > protocol.PRGF_MAX_MINUTES_DRAW_TO_INJECTION


def platelet_fold(whole_blood: int, prgf: int) -> Decimal:
    return (Decimal(prgf) / Decimal(whole_blood)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def check_prgf_times(
    drawn: datetime | None, activated: datetime | None, mixed: datetime | None
) -> dict[str, str]:
    """The preparation steps must follow each other in time."""
    errors = {}
    if drawn and activated and activated < drawn:
        errors["activated_at"] = "Activation cannot be before the blood draw."
    if activated and mixed and mixed < activated:
        errors["mixed_with_secretome_at"] = "Mixing cannot be before activation."
    return errors
