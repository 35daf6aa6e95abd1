"""The outcome forms in the form registry: VAS pain, WOMAC, imaging and synovial biomarkers."""

from outcomes import imaging
from outcomes.forms import MriForm, SynovialBiomarkersForm, VasPainForm, WomacForm, XrayForm
from outcomes.models import Mri, SynovialBiomarkers, VasPain, Womac, Xray
from outcomes.services import record_biomarkers, record_womac
from trialsite.crf.registry import FormDef, Item, Kind, register

VAS_PAIN = register(
    FormDef(
        name="vas_pain",
        title="VAS pain",
        kind=Kind.PER_VISIT,
        order=200,
        model=VasPain,
        form=VasPainForm,
        template="outcomes/vas_pain.html",
    )
)

WOMAC = register(
    FormDef(
        name="womac",
        title="WOMAC",
        kind=Kind.PER_VISIT,
        order=210,
        model=Womac,
        form=WomacForm,
        template="outcomes/womac.html",
        save=record_womac,
    )
)


def _cartilage(code: str, part: str):
    return lambda mri: (mri.cartilage.get(code) or {}).get(part)


def _cartilage_items() -> tuple[Item, ...]:
    """The MRI's cartilage scores, one item per subregion and part (stored as one JSON)."""
    codes = {
        "area": tuple((str(k), v) for k, v in imaging.AREA_GRADES.items()),
        "full_thickness": tuple((str(k), v) for k, v in imaging.FULL_THICKNESS_GRADES.items()),
    }
    return tuple(
        Item(
            f"{code}_{part}",
            f"{label}: {part_label}",
            "integer" if part in codes else "float",
            _cartilage(code, part),
            codes=codes.get(part, ()),
            mandatory=part in codes,
        )
        for code, label in imaging.SUBREGIONS.items()
        for part, part_label in imaging.SUBREGION_PARTS.items()
    )


XRAY = register(
    FormDef(
        name="xray",
        title="X-ray",
        kind=Kind.PER_VISIT,
        order=400,
        model=Xray,
        form=XrayForm,
        template="outcomes/xray.html",
    )
)

MRI = register(
    FormDef(
        name="mri",
        title="MRI",
        kind=Kind.PER_VISIT,
        order=410,
        model=Mri,
        form=MriForm,
        template="outcomes/mri.html",
        exclude_items=("cartilage",),
        extra_items=_cartilage_items(),
    )
)

SYNOVIAL_BIOMARKERS = register(
    FormDef(
        name="synovial_biomarkers",
        title="Synovial biomarkers",
        kind=Kind.PER_VISIT,
        order=420,
        model=SynovialBiomarkers,
        form=SynovialBiomarkersForm,
        template="outcomes/synovial_biomarkers.html",
        save=record_biomarkers,
    )
)
