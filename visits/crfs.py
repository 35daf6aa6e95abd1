"""The visit forms in the form registry: the visit itself (date, status, window), and the
injection and PRGF preparation CRFs of the injection visits."""

from django.urls import reverse

from trialsite.crf.registry import FormDef, Item, Kind, register
from visits import dosing, schedule, services
from visits.forms import DeviationForm, InjectionForm, PrgfPreparationForm
from visits.models import Deviation, Injection, PrgfPreparation, Visit


def _status(visit) -> str:
    return visit.status_on(services.site_today(visit.participant.site)).value


def _days_outside(visit) -> int | None:
    if visit.visit_date is None or visit.window is None:
        return None
    return schedule.days_outside(visit.window, visit.visit_date)


VISIT = register(
    FormDef(
        name="visit",
        title="Visit",
        kind=Kind.PER_VISIT,
        order=100,
        model=Visit,
        visit_record=True,
        page=lambda visit: reverse("visit_detail", args=[visit.participant_id, visit.pk]),
        site_path="participant__site",
        visit_path="pk",
        # The visit's code and number are the key of every per-visit record.
        exclude_items=("code", "sequence"),
        extra_items=(
            Item(
                "status",
                "status of the visit today",
                "text",
                _status,
                codes=tuple((s.value, label) for s, label in schedule.STATUS_LABELS.items()),
            ),
            Item(
                "days_outside_window",
                "days the visit took place before (-) or after (+) its window; 0 inside",
                "integer",
                _days_outside,
            ),
        ),
    )
)

PRGF_PREPARATION = register(
    FormDef(
        name="prgf_preparation",
        title="PRGF preparation",
        kind=Kind.PER_VISIT,
        order=300,
        model=PrgfPreparation,
        form=PrgfPreparationForm,
        template="visits/prgf_preparation.html",
        save=services.record_prgf_preparation,
        reveals_arm=True,
        arms=tuple(code for code, arm in dosing.ARMS.items() if arm.prgf_ml > 0),
    )
)

INJECTION = register(
    FormDef(
        name="injection",
        title="Injection procedure",
        kind=Kind.PER_VISIT,
        order=310,
        model=Injection,
        form=InjectionForm,
        template="visits/injection.html",
        save=services.record_injection,
        # Volumes differ by arm.
        reveals_arm=True,
    )
)


def _deviation(deviation) -> str:
    return (
        f"{deviation.get_category_display()}, {deviation.get_severity_display().lower()}, "
        f"{deviation.occurred_on:%Y-%m-%d}"
    )


DEVIATION = register(
    FormDef(
        name="deviation",
        title="Protocol deviation",
        kind=Kind.LOG,
        order=520,
        model=Deviation,
        form=DeviationForm,
        template="visits/deviation.html",
        describe=_deviation,
        add_label="Record protocol deviation",
        saved_message=lambda d, before: (
            f"Protocol deviation {d.number} {'updated' if before else 'recorded'}."
        ),
        # Dose deviations name the PRGF and dose volumes, which differ by arm.
        reveals_arm=True,
        select_related=("visit",),
    )
)
