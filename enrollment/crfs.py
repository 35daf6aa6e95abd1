"""The enrollment forms in the form registry: screening, consent (with its withdrawal) and
randomization. Each is entered on a page of its own (eligibility, the randomize action)."""

from django.urls import reverse

from enrollment.forms import ConsentForm, EndOfStudyForm, ScreeningForm
from enrollment.models import Consent, EndOfStudy, Participant, Screening
from enrollment.services import record_end_of_study
from trialsite.crf.registry import FormDef, Item, Kind, register


def _slot(attribute: str):
    def value(participant):
        slot = getattr(participant, "slot", None)  # participants made without a list have none
        return getattr(slot, attribute) if slot is not None else None

    return value


SCREENING = register(
    FormDef(
        name="screening",
        title="Screening",
        kind=Kind.PER_PARTICIPANT,
        order=10,
        model=Screening,
        form=ScreeningForm,
        page=lambda screening: reverse("screening_detail", args=[screening.pk]),
        describe=lambda screening: "Eligible" if screening.eligible else "Not eligible",
        # A screened candidate becomes a participant only when randomized.
        participant_path="participant",
        exclude_items=("site",),
    )
)

CONSENT = register(
    FormDef(
        name="consent",
        title="Informed consent",
        kind=Kind.PER_PARTICIPANT,
        order=20,
        model=Consent,
        form=ConsentForm,
        page=lambda consent: reverse("screening_detail", args=[consent.screening_id]),
        describe=lambda consent: (
            f"Withdrawn {consent.withdrawn_on:%Y-%m-%d}" if consent.is_withdrawn else "Given"
        ),
        participant_path="screening__participant",
        site_path="screening__site",
    )
)

RANDOMIZATION = register(
    FormDef(
        name="randomization",
        title="Randomization",
        kind=Kind.PER_PARTICIPANT,
        order=30,
        model=Participant,
        page=lambda participant: reverse("participant_detail", args=[participant.pk]),
        # The arm, and the list slot it came from, are the allocation itself.
        reveals_arm=True,
        arm_items=("arm",),
        arm_tables=("enrollment_randomizationslot",),
        participant_path="pk",
        exclude_items=("participant_id",),
        extra_items=(
            Item("slot_stratum", "randomization list stratum", "text", _slot("stratum")),
            Item(
                "slot_sequence", "position in the randomization list", "integer", _slot("sequence")
            ),
            Item("slot_block", "block of the randomization list", "integer", _slot("block")),
            Item("slot_block_size", "size of that block", "integer", _slot("block_size")),
        ),
        select_related=("slot",),
    )
)

END_OF_STUDY = register(
    FormDef(
        name="end_of_study",
        title="End of study",
        kind=Kind.PER_PARTICIPANT,
        order=40,
        model=EndOfStudy,
        form=EndOfStudyForm,
        template="enrollment/end_of_study.html",
        save=record_end_of_study,
        saved_message=lambda end, before: (
            f"End of study {'corrected' if before else 'recorded'}: {end.summary}."
        ),
        describe=lambda end: end.summary,
        # Filled in when the participant's study ends, not at enrolment.
        at_end=True,
    )
)
