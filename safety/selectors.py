"""AE listings and summary tables, read in a constant number of queries."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q, QuerySet

from enrollment.models import Arm, Participant
from safety import grading
from safety.models import AdverseEvent, Location
from trialsite import protocol
from trialsite.crf import registry
from visits.models import Visit

SORTS = {
    "onset": ("onset_date", "participant__participant_id", "number"),
    "-onset": ("-onset_date", "participant__participant_id", "number"),
    "participant": ("participant__participant_id", "number"),
    "grade": ("grade", "onset_date"),
    "-grade": ("-grade", "onset_date"),
}


def _relationships(user) -> list[str]:
    """The relatedness items a user may see (PRGF's reveals the arm)."""
    names = ["relationship_secretome", "relationship_prgf", "relationship_procedure"]
    return [name for name in names if name not in hidden_items(user)]


def related(ae, user) -> bool:
    """Related to what the user may see of the products and the procedure."""
    return grading.is_related(*(getattr(ae, name) for name in _relationships(user)))


def listing(user, filters: dict) -> QuerySet[AdverseEvent]:
    """AEs at the user's sites matching the listing filters (see safety.forms.ListingFilter)."""
    qs = AdverseEvent.objects.visible_to(user).select_related("participant", "site", "signed_by")
    if filters.get("site"):
        qs = qs.filter(site=filters["site"])
    if filters.get("arm") and "arm" not in hidden_items(user):
        qs = qs.filter(participant__arm=filters["arm"])
    if filters.get("participant"):
        qs = qs.filter(participant__participant_id__iexact=filters["participant"].strip())
    if filters.get("grade"):
        qs = qs.filter(grade__in=[int(g) for g in filters["grade"]])
    if filters.get("serious") in ("yes", "no"):
        qs = qs.filter(serious=filters["serious"] == "yes")
    related = Q()
    for name in _relationships(user):
        related |= Q(**{f"{name}__in": grading.RELATED})
    if filters.get("related") == "yes":
        qs = qs.filter(related)
    elif filters.get("related") == "no":
        qs = qs.exclude(related)
    if filters.get("onset_from"):
        qs = qs.filter(onset_date__gte=filters["onset_from"])
    if filters.get("onset_to"):
        qs = qs.filter(onset_date__lte=filters["onset_to"])
    if filters.get("review") == "awaiting":
        qs = qs.filter(signed_at__isnull=True)
    elif filters.get("review") == "signed":
        qs = qs.filter(signed_at__isnull=False)
    return qs.order_by(*SORTS.get(filters.get("sort") or "-onset", SORTS["-onset"]))


# (heading, the registered item it shows, value of an AE). Items that reveal the arm (the
# arm itself, PRGF relatedness, and what counts it: related, SUSAR) are declared in the form
# registry and left out for users who may not see the arm.
LISTING_COLUMNS = [
    ("Participant", "participant_id", lambda ae: ae.participant.participant_id),
    ("Arm", "arm", lambda ae: ae.participant.arm),
    ("Site", "site", lambda ae: ae.site.code),
    ("AE", "number", lambda ae: ae.number),
    ("Term", "verbatim_term", lambda ae: ae.verbatim_term),
    ("Onset", "onset_date", lambda ae: ae.onset_date.isoformat()),
    ("End", "end_date", lambda ae: ae.end_date.isoformat() if ae.end_date else "ongoing"),
    ("Location", "location", lambda ae: ae.get_location_display()),
    ("Grade", "grade", lambda ae: ae.grade),
    ("Serious", "serious", lambda ae: "Y" if ae.serious else "N"),
    ("Seriousness criteria", "serious", lambda ae: "; ".join(ae.criteria())),
    (
        "Related to secretome",
        "relationship_secretome",
        lambda ae: ae.get_relationship_secretome_display(),
    ),
    ("Related to PRGF", "relationship_prgf", lambda ae: ae.get_relationship_prgf_display()),
    (
        "Related to procedure",
        "relationship_procedure",
        lambda ae: ae.get_relationship_procedure_display(),
    ),
    ("Expected", "expected_reaction", lambda ae: ae.expected_reaction or "N"),
    ("SUSAR", "susar", lambda ae: "Y" if ae.susar else "N"),
    ("Action taken", "action_taken", lambda ae: ae.get_action_taken_display()),
    ("Outcome", "outcome", lambda ae: ae.get_outcome_display()),
    ("AESI", "special_interest", lambda ae: "Y" if ae.special_interest else "N"),
    ("Signed by", "signed_by", lambda ae: ae.signed_by.printed_name if ae.signed_by else ""),
    (
        "Signed at (UTC)",
        "signed_at",
        lambda ae: ae.signed_at.isoformat() if ae.signed_at else "",
    ),
]


def hidden_items(user) -> set[str]:
    """The items of the AE listings a user may not see (registry declarations)."""
    if user.sees_arm:
        return set()
    reveal = {i.name for i in registry.get("adverse_event").items() if i.reveals_arm}
    return reveal | set(registry.get("randomization").arm_items)


def listing_columns(user) -> list:
    """(heading, value of an AE) for CSV and PDF listings; what reveals the arm only for users
    who may see it."""
    hidden = hidden_items(user)
    return [(heading, value) for heading, item, value in LISTING_COLUMNS if item not in hidden]


def _relatedness(ae, user) -> str:
    parts = [f"secretome {ae.get_relationship_secretome_display().lower()}"]
    if ae.relationship_prgf and "relationship_prgf" not in hidden_items(user):
        parts.append(f"PRGF {ae.get_relationship_prgf_display().lower()}")
    parts.append(f"procedure {ae.get_relationship_procedure_display().lower()}")
    return "; ".join(parts)


def _review(ae) -> str:
    if not ae.is_signed:
        return "awaiting"
    return f"signed {ae.signed_at:%Y-%m-%d} by {ae.signed_by.printed_name}"


def pdf_columns(user) -> list:
    """(heading, value, width %) for the printed listing: fewer, wider columns than the CSV."""
    columns = [
        ("Participant", lambda ae: ae.participant.participant_id, 9),
        ("AE", lambda ae: ae.number, 4),
        ("Term", lambda ae: ae.verbatim_term, 16),
        ("Onset", lambda ae: ae.onset_date.isoformat(), 10),
        ("End", lambda ae: ae.end_date.isoformat() if ae.end_date else "ongoing", 10),
        ("Grade", lambda ae: ae.grade, 6),
        ("Serious", lambda ae: "; ".join(ae.criteria()) or "no", 12),
        ("Relatedness", lambda ae: _relatedness(ae, user), 17),
        ("Expected", lambda ae: ae.expected_reaction or "no", 10),
        ("Outcome", lambda ae: ae.get_outcome_display(), 9),
        ("Review", _review, 11),
    ]
    if user.sees_arm:
        columns.insert(1, ("Arm", lambda ae: ae.participant.arm, 5))
    return columns


@dataclass
class ArmSummary:
    label: str
    participants: int = 0
    with_ae: int = 0
    events: int = 0
    saes: int = 0
    by_grade: dict = field(default_factory=lambda: dict.fromkeys(grading.GRADES, 0))
    related: int = 0
    not_related: int = 0
    injection_site: dict = field(default_factory=lambda: {"M0": 0, "M6": 0})

    @property
    def with_ae_percent(self) -> float | None:
        return 100 * self.with_ae / self.participants if self.participants else None


def summary(user) -> list[ArmSummary]:
    """AE counts by arm (or pooled for blinded users) at the user's sites, in three queries."""
    participants = Participant.objects.visible_to(user)
    groups = {code: ArmSummary(f"Arm {code}") for code in Arm.values} if user.sees_arm else {}
    pooled = ArmSummary("All participants")

    def group(arm):
        return groups.get(arm, pooled) if user.sees_arm else pooled

    for arm in participants.values_list("arm", flat=True):
        group(arm).participants += 1
    injections = {
        (pid, code): day
        for pid, code, day in Visit.objects.filter(
            participant__in=participants, code__in=("M0", "M6"), visit_date__isnull=False
        ).values_list("participant_id", "code", "visit_date")
    }
    seen = set()
    relationships = _relationships(user)
    window = timedelta(days=protocol.INJECTION_REACTION_DAYS)
    for ae in AdverseEvent.objects.filter(participant__in=participants).select_related(
        "participant"
    ):
        g = group(ae.participant.arm)
        g.events += 1
        g.saes += ae.serious
        g.by_grade[ae.grade] += 1
        if grading.is_related(*(getattr(ae, name) for name in relationships)):
            g.related += 1
        else:
            g.not_related += 1
        if ae.participant_id not in seen:
            seen.add(ae.participant_id)
            g.with_ae += 1
        if ae.location == Location.INDEX_KNEE:
            for code in ("M0", "M6"):
                day = injections.get((ae.participant_id, code))
                if day is not None and day <= ae.onset_date <= day + window:
                    g.injection_site[code] += 1
    return [*groups.values()] if user.sees_arm else [pooled]
