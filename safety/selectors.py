"""AE listings and summary tables, read in a constant number of queries."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q, QuerySet

from enrollment.models import Arm, Participant
from safety import grading
from safety.models import AdverseEvent, Location
from trialsite import protocol
from visits.models import Visit

SORTS = {
    "onset": ("onset_date", "participant__participant_id", "number"),
    "-onset": ("-onset_date", "participant__participant_id", "number"),
    "participant": ("participant__participant_id", "number"),
    "grade": ("grade", "onset_date"),
    "-grade": ("-grade", "onset_date"),
}


def listing(user, filters: dict) -> QuerySet[AdverseEvent]:
    """AEs at the user's sites matching the listing filters (see safety.forms.ListingFilter)."""
    qs = AdverseEvent.objects.visible_to(user).select_related("participant", "site", "signed_by")
    if filters.get("site"):
        qs = qs.filter(site=filters["site"])
    if filters.get("arm") and user.sees_arm:
        qs = qs.filter(participant__arm=filters["arm"])
    if filters.get("participant"):
        qs = qs.filter(participant__participant_id__iexact=filters["participant"].strip())
    if filters.get("grade"):
        qs = qs.filter(grade__in=[int(g) for g in filters["grade"]])
    if filters.get("serious") in ("yes", "no"):
        qs = qs.filter(serious=filters["serious"] == "yes")
    related = Q()
    for name in ("relationship_secretome", "relationship_prgf", "relationship_procedure"):
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


LISTING_COLUMNS = [
    ("Participant", lambda ae: ae.participant.participant_id),
    ("Site", lambda ae: ae.site.code),
    ("AE", lambda ae: ae.number),
    ("Term", lambda ae: ae.verbatim_term),
    ("Onset", lambda ae: ae.onset_date.isoformat()),
    ("End", lambda ae: ae.end_date.isoformat() if ae.end_date else "ongoing"),
    ("Location", lambda ae: ae.get_location_display()),
    ("Grade", lambda ae: ae.grade),
    ("Serious", lambda ae: "Y" if ae.serious else "N"),
    ("Seriousness criteria", lambda ae: "; ".join(ae.criteria())),
    ("Related to secretome", lambda ae: ae.get_relationship_secretome_display()),
    ("Related to PRGF", lambda ae: ae.get_relationship_prgf_display()),
    ("Related to procedure", lambda ae: ae.get_relationship_procedure_display()),
    ("Expected", lambda ae: ae.expected_reaction or "N"),
    ("SUSAR", lambda ae: "Y" if ae.susar else "N"),
    ("Action taken", lambda ae: ae.get_action_taken_display()),
    ("Outcome", lambda ae: ae.get_outcome_display()),
    ("AESI", lambda ae: "Y" if ae.special_interest else "N"),
    ("Signed by", lambda ae: ae.signed_by.printed_name if ae.signed_by else ""),
    ("Signed at (UTC)", lambda ae: ae.signed_at.isoformat() if ae.signed_at else ""),
]


def listing_columns(user) -> list:
    """(heading, value of an AE) for CSV and PDF listings; the arm only for unblinded users."""
    columns = list(LISTING_COLUMNS)
    if user.sees_arm:
        columns.insert(1, ("Arm", lambda ae: ae.participant.arm))
    return columns


def _relatedness(ae) -> str:
    parts = [f"secretome {ae.get_relationship_secretome_display().lower()}"]
    if ae.relationship_prgf:
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
        ("Relatedness", _relatedness, 17),
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
    window = timedelta(days=protocol.INJECTION_REACTION_DAYS)
    for ae in AdverseEvent.objects.filter(participant__in=participants).select_related(
        "participant"
    ):
        g = group(ae.participant.arm)
        g.events += 1
        g.saes += ae.serious
        g.by_grade[ae.grade] += 1
        if ae.related:
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
