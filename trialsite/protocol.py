"""The protocol of NCT07157891 (MSCSEC-OA-001), in one readable place.

Everything the EDC needs to know about this trial lives here: arms and doses, eligibility
limits, the visit schedule, scoring options and safety clocks. Rule modules and services read
these names; no other module repeats a protocol number.

Sources: the registry record (../shared/protocol/NCT07157891-registry-record.txt) and the domain
reference (../shared/reference/domain.md). Values marked FLAG are uncertain there: each is named
and explained so that the sponsor can confirm or change it without touching code. A change here
is a protocol change: bump PROTOCOL_VERSION, so that stored decisions keep the version that
produced them.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

PROTOCOL_ID = "MSCSEC-OA-001"
REGISTRY_ID = "NCT07157891"
STUDY_TITLE = (
    "Safety and regenerative potential of MSC-derived secretome combined with PRGF "
    "in knee osteoarthritis"
)
# Version of the rules below; saved with every eligibility decision and score.
PROTOCOL_VERSION = "1.0"

DEFAULT_SITE_TIME_ZONE = "Asia/Karachi"


# --- Arms and doses (registry: "Study Groups") ------------------------------------------------
@dataclass(frozen=True)
class Arm:
    code: str
    label: str
    secretome_ml: Decimal
    prgf_ml: Decimal

    @property
    def total_ml(self) -> Decimal:
        return self.secretome_ml + self.prgf_ml


ARM_A = Arm("A", "MSC-derived secretome 2 mL", Decimal("2.0"), Decimal("0.0"))
ARM_B = Arm(
    "B", "MSC-derived secretome 2 mL + autologous PRGF 1 mL", Decimal("2.0"), Decimal("1.0")
)
ARMS = (ARM_A, ARM_B)
ALLOCATION_RATIO = (1, 1)
INJECTION_MONTHS = (0, 6)

# --- Enrollment -------------------------------------------------------------------------------
TARGET_ENROLLMENT = 25
AGE_MIN_YEARS = 30
AGE_MAX_YEARS = 55
VAS_MIN_MM_AT_SCREENING = 20
# FLAG: the registry's description says Kellgren-Lawrence II-III, its inclusion list says
# "Grade I and II". II-III follows the description (mild to moderate OA) until the protocol
# is seen.
KL_GRADES_ALLOWED = (2, 3)
# FLAG: the registry gives "BMI 27.12 ± 4.38", a summary statistic rather than a criterion.
# None means no limit; set numbers here once the sponsor confirms a range.
BMI_MIN: float | None = None
BMI_MAX: float | None = None
# FLAG: ACR 1986 variant accepted for "primary OA by ACR criteria": clinical or clinical +
# radiographic (domain.md §3.2).
ACR_VARIANTS_ACCEPTED = ("clinical", "clinical_radiographic")

# Versions of the approved informed-consent form that may be used; the newest comes first.
CONSENT_FORM_VERSIONS = ("1.0",)

# --- Randomization (domain.md §9) -------------------------------------------------------------
RANDOMIZATION_BLOCK_SIZES = (2, 4)
# The list must be at least this many times the target enrollment.
RANDOMIZATION_LIST_FACTOR = 1.2
# FLAG: no stratification is named in the registry. Name at most one factor here,
# e.g. ("kl_grade",), once the statistician decides.
STRATIFICATION_FACTORS: tuple[str, ...] = ()


# --- Visit schedule (days from the actual M0 injection; windows in calendar days of the
# site's time zone) ---------------------------------------------------------------------------
@dataclass(frozen=True)
class VisitDef:
    code: str
    label: str
    day: int
    days_before: int
    days_after: int
    # The forms collected at the visit, by their registered names (trialsite/crf/registry.py);
    # the visit's own record (date, status) is collected at every visit.
    crfs: tuple[str, ...]


VISIT_SCHEDULE = (
    VisitDef("SCR", "Screening", 0, 28, 0, ("screening", "consent", "vas_pain")),
    VisitDef(
        "M0",
        "Baseline and injection 1",
        0,
        0,
        0,
        (
            "vas_pain",
            "womac",
            "injection",
            "prgf_preparation",
            "xray",
            "mri",
            "synovial_biomarkers",
        ),
    ),
    VisitDef("W1", "Week 1 safety call", 7, 3, 3, ("adverse_event",)),
    VisitDef("M1", "Month 1", 30, 7, 7, ("vas_pain", "womac", "rescue_analgesia")),
    VisitDef("M3", "Month 3", 90, 14, 14, ("vas_pain", "womac", "rescue_analgesia")),
    VisitDef(
        "M6",
        "Month 6 and injection 2",
        180,
        14,
        14,
        (
            "vas_pain",
            "womac",
            "rescue_analgesia",
            "injection",
            "prgf_preparation",
            "synovial_biomarkers",
        ),
    ),
    VisitDef("M6W1", "Month 6 week 1 safety call", 187, 3, 3, ("adverse_event",)),
    VisitDef("M9", "Month 9", 270, 14, 14, ("vas_pain", "womac", "rescue_analgesia")),
    VisitDef(
        "M12",
        "Month 12 end of study",
        365,
        21,
        21,
        ("vas_pain", "womac", "rescue_analgesia", "xray", "mri", "synovial_biomarkers"),
    ),
)

# --- Outcomes ---------------------------------------------------------------------------------
# FLAG: WOMAC pain/stiffness missing-item rules are quoted from the (unseen) User Guide; the
# function rule (≤3 missing) is published. Maximum missing items per subscale that are still
# imputed with the mean of the answered items of the same subscale.
WOMAC_MAX_MISSING = {"pain": 1, "stiffness": 1, "function": 3}
# FLAG: recall period 48 h (textbook) vs 72 h (a review); the licensed form decides.
WOMAC_RECALL_PERIOD = "last 48 hours"
# FLAG: VAS recall wording is not in the registry.
VAS_RECALL_PERIOD = "last 48 hours"

# FLAG: responder rule (domain.md §11 open question 2). OMERACT-OARSI set of responder criteria
# (Pham et al., Osteoarthritis Cartilage 2004) on 0-100 scales: high improvement in pain or
# function, or moderate improvement in two of pain, function and patient global assessment (not
# collected in this trial, so that branch is computable only when it cannot change the answer).
OARSI_HIGH = {"relative": 0.50, "absolute": 20.0}
OARSI_MODERATE = {"relative": 0.20, "absolute": 10.0}
# Visit whose values are the baseline for change from baseline.
BASELINE_VISIT = "M0"

# --- Safety (domain.md §6) --------------------------------------------------------------------
# FLAG: ICH E6 says "immediately"; EU CTR Art. 41 gives 24 h. Local rules unconfirmed.
SAE_REPORT_WITHIN = timedelta(hours=24)
SUSAR_FATAL_OR_LIFE_THREATENING_WITHIN = timedelta(days=7)
SUSAR_OTHER_WITHIN = timedelta(days=15)

# Reactions expected after an intra-articular injection (domain.md §6.5); an AE matching one is
# "expected" for SUSAR purposes. FLAG: the reference safety information of the sponsor decides.
EXPECTED_REACTIONS = (
    "Injection-site pain",
    "Knee swelling or effusion",
    "Knee warmth",
    "Injection-site erythema",
    "Knee stiffness",
    "Venepuncture bruising (PRGF arm)",
    "Vasovagal reaction",
)
# ICH E2A: an event is unexpected when its nature or SEVERITY is not consistent with the
# reference safety information. The expected reactions above are described there as mild to
# moderate, self-limited local reactions, so a SERIOUS event matching one of them but graded
# above this CTCAE grade counts as unexpected (for SUSAR purposes). FLAG: the sponsor's
# reference safety information decides the grade each reaction is expected up to.
EXPECTED_REACTION_MAX_GRADE = 2
# Injection-site reactions are counted when they start within this many days of an injection.
INJECTION_REACTION_DAYS = 7

# --- Investigational product (domain.md §10) --------------------------------------------------
# FLAG: the sponsor SOP decides the longest time from blood draw to injection of PRGF.
PRGF_MAX_MINUTES_DRAW_TO_INJECTION = 120

# --- Data management plan ------------------------------------------------------------------
# Work lists and the data-quality report: visits due within this many days are "upcoming";
# a form left incomplete, or a query left open, for longer than these is reported.
UPCOMING_VISIT_DAYS = 14
INCOMPLETE_FORM_DAYS = 14
OPEN_QUERY_DAYS = 14

# --- Rescue analgesia ------------------------------------------------------------------------
# FLAG: the registry record names no rescue analgesic; paracetamol 500 mg tablets is assumed.
# Recorded at each follow-up visit as tablets per week since the last visit; more than the
# maximum daily dose (4 g, 8 tablets a day) every day of the week asks for confirmation.
RESCUE_ANALGESIC = "paracetamol 500 mg tablets"
RESCUE_TABLETS_PER_WEEK_USUAL_MAX = 56
RESCUE_TABLETS_PER_WEEK_LIMIT = 200  # beyond this a value is a typing error, refused


# --- Concomitant medications ---------------------------------------------------------------
# FLAG: the registry record names no prohibited medications. Assumed from knee-OA injection
# trials: no other intra-articular injection into the study knee during the study (a
# corticosteroid or hyaluronic acid, named by ATC code or by name), and no NSAID in the days
# before a pain assessment (it would mask the VAS and WOMAC pain scores). A medication is
# matched by the start of its ATC code or by a word of its name; `routes` limits a rule to
# those routes (empty: any route).
@dataclass(frozen=True)
class ForbiddenMedication:
    key: str
    label: str
    atc_prefixes: tuple[str, ...]
    names: tuple[str, ...]
    routes: tuple[str, ...] = ()
    # None: forbidden at any time during the study; a number: only when taken within that many
    # days before a pain assessment (a visit with a VAS pain score).
    days_before_pain_assessment: int | None = None


FORBIDDEN_MEDICATIONS = (
    ForbiddenMedication(
        "ia_corticosteroid",
        "Intra-articular corticosteroid during the study",
        atc_prefixes=("H02",),
        names=(
            "triamcinolone",
            "methylprednisolone",
            "betamethasone",
            "dexamethasone",
            "hydrocortisone",
            "prednisolone",
        ),
        routes=("intra_articular",),
    ),
    ForbiddenMedication(
        "ia_hyaluronic_acid",
        "Intra-articular hyaluronic acid during the study",
        atc_prefixes=("M09AX01",),
        names=("hyaluronic", "hyaluronate", "hylan"),
        routes=("intra_articular",),
    ),
    ForbiddenMedication(
        "nsaid_before_pain_assessment",
        "NSAID in the days before a pain assessment",
        atc_prefixes=("M01A", "M02AA"),
        names=(
            "ibuprofen",
            "diclofenac",
            "naproxen",
            "celecoxib",
            "etoricoxib",
            "meloxicam",
            "ketoprofen",
            "piroxicam",
            "indomethacin",
            "aceclofenac",
            "mefenamic",
        ),
        days_before_pain_assessment=7,
    ),
)

# --- Protocol deviations ----------------------------------------------------------------------
# FLAG: the deviation plan of the protocol decides which deviations are major. Deviations the
# system records by itself are given these; a coordinator may change one with a reason.
DEVIATION_SEVERITY = {
    "visit_window": "minor",
    "dosing": "major",
    "forbidden_medication": "major",
}
