"""The safety forms in the form registry: the adverse event log, and rescue analgesia at
each follow-up visit."""

from django.urls import reverse

from safety.forms import AdverseEventForm, ConcomitantMedicationForm, RescueAnalgesiaForm
from safety.models import AdverseEvent, ConcomitantMedication, RescueAnalgesia
from safety.services import record_adverse_event, record_concomitant_medication
from trialsite.crf.registry import FormDef, Item, Kind, register

YES_NO = (("Y", "Yes"), ("N", "No"))


def _flag(attribute: str):
    return lambda ae: "Y" if getattr(ae, attribute) else "N"


def _saved(ae, before) -> str:
    if before is None:
        note = " The investigators are being e-mailed now." if ae.serious else ""
        return f"Adverse event {ae.number} reported.{note}"
    voided = " The investigator's signature was voided." if before.is_signed else ""
    return f"Adverse event {ae.number} updated.{voided}"


ADVERSE_EVENT = register(
    FormDef(
        name="adverse_event",
        title="Adverse event",
        kind=Kind.LOG,
        order=500,
        model=AdverseEvent,
        form=AdverseEventForm,
        template="safety/adverse_event.html",
        save=record_adverse_event,
        detail_page=lambda ae: reverse("ae_detail", args=[ae.pk]),
        saved_message=_saved,
        describe=lambda ae: ae.verbatim_term,
        add_label="Report adverse event",
        # Relatedness to PRGF is asked only in arm B; "related" and "SUSAR" count it.
        arm_items=("relationship_prgf",),
        extra_items=(
            Item(
                "related",
                "related to a product or the procedure (possible, probable or definite)",
                "text",
                _flag("related"),
                codes=YES_NO,
                reveals_arm=True,
            ),
            Item(
                "susar",
                "suspected unexpected serious adverse reaction",
                "text",
                _flag("susar"),
                codes=YES_NO,
                reveals_arm=True,
            ),
        ),
    )
)

RESCUE_ANALGESIA = register(
    FormDef(
        name="rescue_analgesia",
        title="Rescue analgesia",
        kind=Kind.PER_VISIT,
        order=220,
        model=RescueAnalgesia,
        form=RescueAnalgesiaForm,
        template="safety/rescue_analgesia.html",
    )
)


def _medication_saved(entry, before) -> str:
    done = f"Concomitant medication {entry.number} {'updated' if before else 'recorded'}."
    for deviation in getattr(entry, "deviations_opened", []):
        done += (
            f" Forbidden by the protocol: {deviation.description} Protocol deviation "
            f"{deviation.number} was recorded."
        )
    return done


def _medication(entry) -> str:
    period = "ongoing" if entry.ongoing else f"to {entry.stop_date:%Y-%m-%d}"
    return (
        f"{entry.drug_name} {entry.dose.normalize():f} {entry.get_dose_unit_display()}, "
        f"{entry.get_route_display().lower()}, from {entry.start_date:%Y-%m-%d} {period}"
    )


CONCOMITANT_MEDICATION = register(
    FormDef(
        name="concomitant_medication",
        title="Concomitant medication",
        kind=Kind.LOG,
        order=510,
        model=ConcomitantMedication,
        form=ConcomitantMedicationForm,
        template="safety/concomitant_medication.html",
        save=record_concomitant_medication,
        describe=_medication,
        saved_message=_medication_saved,
        add_label="Add concomitant medication",
    )
)
