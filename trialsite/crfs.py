"""Every CRF that has a page, by its name in protocol.VISIT_SCHEDULE: model and URL name.

Listed by hand (no discovery): adding a CRF means adding a line here.
"""

from outcomes.models import Mri, SynovialBiomarkers, VasPain, Womac, Xray
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

# Titles of the CRFs that have no page yet (later issues build them).
CRF_TITLES = {
    "screening": "Screening",
    "consent": "Consent",
    "adverse_events": "Adverse events",
}
