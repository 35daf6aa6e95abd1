"""Every CRF that has a page, by its name in protocol.VISIT_SCHEDULE: model and URL name.

Listed by hand (no discovery): adding a CRF means adding a line here.
"""

from django.urls import reverse

from outcomes.forms import MriForm, SynovialBiomarkersForm, VasPainForm, WomacForm, XrayForm
from outcomes.models import Mri, SynovialBiomarkers, VasPain, Womac, Xray
from visits.forms import InjectionForm, PrgfPreparationForm
from visits.models import Injection, PrgfPreparation

CRF_PAGES = {
    "vas_pain": (VasPain, "vas_pain"),
    "womac": (Womac, "womac"),
    "biomarkers": (SynovialBiomarkers, "biomarkers"),
    "xray": (Xray, "xray"),
    "mri": (Mri, "mri"),
    "injection": (Injection, "injection"),
    "prgf_preparation": (PrgfPreparation, "prgf_preparation"),
}

# The form of each CRF: its page, and the PDF CRFs, lay the items out from form.sections().
CRF_FORMS = {
    "vas_pain": VasPainForm,
    "womac": WomacForm,
    "biomarkers": SynovialBiomarkersForm,
    "xray": XrayForm,
    "mri": MriForm,
    "injection": InjectionForm,
    "prgf_preparation": PrgfPreparationForm,
}

# Titles of the CRFs that have no page yet (later issues build them).
CRF_TITLES = {
    "screening": "Screening",
    "consent": "Consent",
    "adverse_events": "Adverse events",
}


def next_crf_url(visit, current: str, user) -> str | None:
    """The page of the next CRF due at `visit` after `current`, or None after the last."""
    names = [name for name in visit.crfs_due if name in CRF_PAGES]
    following = names[names.index(current) + 1 :] if current in names else []
    for name in following:
        model, url_name = CRF_PAGES[name]
        if model.is_due_at(visit) and (user.sees_arm or not model.reveals_arm):
            return reverse(url_name, args=[visit.participant_id, visit.pk])
    return None
