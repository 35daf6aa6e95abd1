"""The safety forms in the form registry: the adverse event log, and rescue analgesia at
each follow-up visit."""

from django.urls import reverse

from safety.forms import AdverseEventForm, RescueAnalgesiaForm
from safety.models import AdverseEvent, RescueAnalgesia
from safety.services import record_adverse_event
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
