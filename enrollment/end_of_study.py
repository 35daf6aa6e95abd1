"""Rules of the end of study form, with no database: how the participant's study ended, and a
death recorded here matching a fatal adverse event, and the reverse."""

from datetime import date

COMPLETED = "completed"
EARLY_TERMINATION = "early_termination"
DEATH = "death"
OTHER = "other"
STATUSES = {
    COMPLETED: "Completed the study",
    EARLY_TERMINATION: "Ended early",
}
REASONS = {
    "withdrawal_of_consent": "Withdrawal of consent",
    "lost_to_follow_up": "Lost to follow-up",
    "adverse_event": "Adverse event",
    DEATH: "Death",
    "investigator_decision": "Investigator's decision",
    OTHER: "Other",
}

NEEDS_FATAL_AE = (
    "A death must match a fatal adverse event: report the adverse event with the outcome "
    "“Fatal” first."
)


def errors(
    *, status: str, reason: str, detail: str, ended_on: date | None, last_contact_on: date | None
) -> dict[str, str]:
    """What is inconsistent in the form's own answers, by item."""
    found = {}
    if status == COMPLETED and reason:
        found["reason"] = "A participant who completed the study has no reason for ending early."
    if status == EARLY_TERMINATION and not reason:
        found["reason"] = "Give the reason the participant's study ended early."
    if reason == OTHER and not detail.strip():
        found["reason_detail"] = "Say what the other reason is."
    if ended_on and last_contact_on and last_contact_on > ended_on:
        found["last_contact_on"] = "The last contact cannot be after the end of study."
    return found


def death_errors(*, reason: str, fatal_ae_numbers: list[int]) -> dict[str, str]:
    """The end of study says death exactly when the participant has a fatal adverse event."""
    if reason == DEATH and not fatal_ae_numbers:
        return {"reason": NEEDS_FATAL_AE}
    if reason != DEATH and fatal_ae_numbers:
        numbers = ", ".join(str(n) for n in fatal_ae_numbers)
        return {
            "reason": f"Adverse event {numbers} is fatal: the end of study must give death as "
            "the reason."
        }
    return {}


def fatal_ae_error(*, outcome_fatal: bool, end_reason: str | None, other_fatal: bool) -> str:
    """For an adverse event being saved: its outcome against a recorded end of study
    (`end_reason` None when there is none yet). Empty when consistent."""
    if end_reason is None:
        return ""
    if outcome_fatal and end_reason != DEATH:
        return (
            "The end of study of this participant gives another reason than death: correct it "
            "before recording a fatal outcome."
        )
    if not outcome_fatal and end_reason == DEATH and not other_fatal:
        return (
            "The end of study records a death and this is the participant's only fatal adverse "
            "event: correct the end of study first."
        )
    return ""
