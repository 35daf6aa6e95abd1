"""The two analysis-ready files of the export, read in a few queries per 200 participants:

- `analysis_visits`: one row per participant × scheduled visit: VAS pain, WOMAC subscales and
  total (raw and normalised 0-100), their change from baseline, and OMERACT-OARSI response.
- `analysis_participants`: one row per participant: demographics at screening, key dates,
  numbers of adverse events and serious adverse events, and completion status.

The arm is a column only for users who may see it. Values come from the stored forms and the
outcome rules (outcomes/derived.py), never recomputed differently here.
"""

from collections import Counter, defaultdict
from collections.abc import Iterator
from itertools import islice

from django.db.models import Count, Q
from django.utils import timezone

from enrollment.models import Arm, Participant, Sex
from outcomes import derived
from outcomes.models import VasPain, Womac
from safety.models import AdverseEvent
from trialsite import protocol
from trialsite.choices import KneeOrBoth, MissingReason
from trialsite.crf.registry import Item
from visits import schedule
from visits.models import Visit

CHUNK = 200
SCHEDULE = [v.code for v in protocol.VISIT_SCHEDULE]
SCALES = ("pain", "stiffness", "function", "total")
YES_NO = (("Y", "Yes"), ("N", "No"))
ARM = Item(
    "arm",
    "randomized arm",
    "text",
    lambda row: row["arm"],
    codes=tuple(Arm.choices),
    mandatory=True,
    reveals_arm=True,
)


def _key(name: str) -> callable:
    return lambda row: row[name]


def _item(name: str, label: str, datatype: str = "float", **kwargs) -> Item:
    return Item(name, label, datatype, _key(name), **kwargs)


VISIT_ITEMS = [
    _item("participant_id", "participant ID", "text", mandatory=True),
    _item("site", "site code", "text", mandatory=True),
    ARM,
    _item(
        "visit",
        "visit code",
        "text",
        codes=tuple((v.code, v.label) for v in protocol.VISIT_SCHEDULE),
        mandatory=True,
    ),
    _item("visit_date", "date of the visit", "date"),
    _item("vas_pain_mm", "VAS pain (mm, 0-100)", "integer"),
    _item(
        "vas_pain_missing",
        "VAS pain: reason missing",
        "text",
        codes=tuple(MissingReason.choices),
    ),
    _item("vas_pain_change_mm", f"VAS pain change from {protocol.BASELINE_VISIT} (mm)"),
    *(
        item
        for scale in SCALES
        for item in (
            _item(f"womac_{scale}", f"WOMAC {scale}, raw"),
            _item(
                f"womac_{scale}_normalised", f"WOMAC {scale}, normalised 0-100 (higher is worse)"
            ),
            _item(
                f"womac_{scale}_change", f"WOMAC {scale}, raw change from {protocol.BASELINE_VISIT}"
            ),
            _item(
                f"womac_{scale}_normalised_change",
                f"WOMAC {scale}, normalised change from {protocol.BASELINE_VISIT}",
            ),
        )
    ),
    _item(
        "oarsi_responder",
        "OMERACT-OARSI responder (empty when it cannot be decided)",
        "text",
        codes=YES_NO,
    ),
]

COMPLETION = (
    ("completed", "Completed the last visit"),
    ("withdrawn", "Withdrew consent"),
    ("last_visit_missed", "Missed the last visit"),
    ("ongoing", "In follow-up"),
)
PARTICIPANT_ITEMS = [
    _item("participant_id", "participant ID", "text", mandatory=True),
    _item("site", "site code", "text", mandatory=True),
    ARM,
    _item("sex", "sex", "text", codes=tuple(Sex.choices), mandatory=True),
    _item("age_years", "age at screening (years)", "integer", mandatory=True),
    _item("height_cm", "height at screening (cm)", mandatory=True),
    _item("weight_kg", "weight at screening (kg)", mandatory=True),
    _item("bmi", "BMI at screening (kg/m²)", mandatory=True),
    _item("index_knee", "index knee", "text", codes=tuple(KneeOrBoth.choices), mandatory=True),
    _item(
        "kl_grade_left",
        "Kellgren-Lawrence grade at screening, left knee",
        "integer",
        mandatory=True,
    ),
    _item(
        "kl_grade_right",
        "Kellgren-Lawrence grade at screening, right knee",
        "integer",
        mandatory=True,
    ),
    _item(
        "vas_screening_mm",
        "VAS pain of the index knee at screening (mm)",
        "integer",
        mandatory=True,
    ),
    _item("screening_date", "date of screening", "date", mandatory=True),
    _item("consent_date", "date of informed consent (site's zone)", "date", mandatory=True),
    _item("randomization_date", "date of randomization (site's zone)", "date", mandatory=True),
    _item("first_injection_date", f"date of the {protocol.BASELINE_VISIT} injection visit", "date"),
    _item("second_injection_date", "date of the month-6 injection visit", "date"),
    _item("last_visit_date", "date of the last visit that took place", "date"),
    _item("withdrawal_date", "date consent was withdrawn", "date"),
    _item("adverse_events", "number of adverse events", "integer", mandatory=True),
    _item("serious_adverse_events", "number of serious adverse events", "integer", mandatory=True),
    _item("completion_status", "completion status", "text", codes=COMPLETION, mandatory=True),
]


def participants(site_ids=None):
    """The participants of the analysis files: those at `site_ids` (all when None)."""
    participants = Participant.objects.select_related("site", "screening__consent")
    if site_ids is not None:
        participants = participants.filter(site_id__in=site_ids)
    return participants.order_by("participant_id")


def _chunks(queryset) -> Iterator[list]:
    rows = queryset.iterator(chunk_size=CHUNK)
    while chunk := list(islice(rows, CHUNK)):
        yield chunk


def _base(participant) -> dict:
    return {
        "participant_id": participant.participant_id,
        "site": participant.site.code,
        "arm": participant.arm,
    }


def visit_rows(participants) -> Iterator[dict]:
    for chunk in _chunks(participants):
        ids = [p.pk for p in chunk]
        dates = {
            (pid, code): day
            for pid, code, day in Visit.objects.filter(
                participant_id__in=ids, code__in=SCHEDULE
            ).values_list("participant_id", "code", "visit_date")
        }
        vas = {
            (pid, code): (score, why)
            for pid, code, score, why in VasPain.objects.filter(participant_id__in=ids).values_list(
                "participant_id", "visit__code", "score_mm", "score_mm_missing"
            )
        }
        womac = {
            (w["participant_id"], w["visit__code"]): w
            for w in Womac.objects.filter(participant_id__in=ids).values(
                "participant_id",
                "visit__code",
                *SCALES,
                *(f"{scale}_normalised" for scale in SCALES),
            )
        }
        for participant in chunk:
            yield from _participant_visits(participant, dates, vas, womac)


def _participant_visits(participant, dates, vas, womac) -> Iterator[dict]:
    pid, baseline = participant.pk, protocol.BASELINE_VISIT
    base_vas, base_womac = vas.get((pid, baseline), (None, ""))[0], womac.get((pid, baseline))
    after_baseline = False
    for code in SCHEDULE:
        if (pid, code) not in dates:
            continue
        (score, why), w = vas.get((pid, code), (None, "")), womac.get((pid, code))
        row = {**_base(participant), "visit": code, "visit_date": dates[(pid, code)]}
        row["vas_pain_mm"], row["vas_pain_missing"] = score, why or None
        row["vas_pain_change_mm"] = derived.change(base_vas, score) if after_baseline else None
        responder = None
        for scale in SCALES:
            raw = w[scale] if w else None
            normalised = w[f"{scale}_normalised"] if w else None
            row[f"womac_{scale}"] = raw
            row[f"womac_{scale}_normalised"] = normalised
            changes = after_baseline and base_womac is not None
            row[f"womac_{scale}_change"] = (
                derived.change(base_womac[scale], raw) if changes else None
            )
            row[f"womac_{scale}_normalised_change"] = (
                derived.change(base_womac[f"{scale}_normalised"], normalised) if changes else None
            )
        if after_baseline and w is not None and base_womac is not None:
            responder = derived.oarsi_responder(
                base_womac["pain_normalised"],
                w["pain_normalised"],
                base_womac["function_normalised"],
                w["function_normalised"],
            )
        row["oarsi_responder"] = None if responder is None else ("Y" if responder else "N")
        after_baseline = after_baseline or code == baseline
        yield row


def participant_rows(participants) -> Iterator[dict]:
    last_visit = SCHEDULE[-1]
    injections = schedule.INJECTION_VISITS
    for chunk in _chunks(participants):
        ids = [p.pk for p in chunk]
        visits = defaultdict(dict)
        done = defaultdict(list)
        for pid, code, day, missed in Visit.objects.filter(participant_id__in=ids).values_list(
            "participant_id", "code", "visit_date", "missed_reason"
        ):
            visits[pid][code] = (day, bool(missed))
            if day is not None:
                done[pid].append(day)
        events = Counter()
        serious = Counter()
        for row in (
            AdverseEvent.objects.filter(participant_id__in=ids)
            .values("participant_id")
            .annotate(n=Count("id"), serious=Count("id", filter=Q(serious=True)))
        ):
            events[row["participant_id"]] = row["n"]
            serious[row["participant_id"]] = row["serious"]
        for p in chunk:
            screening, zone = p.screening, p.site.zone
            consent = getattr(screening, "consent", None)
            seen = visits[p.pk]
            row = {
                **_base(p),
                **{
                    name: getattr(screening, name)
                    for name in (
                        "sex",
                        "age_years",
                        "height_cm",
                        "weight_kg",
                        "bmi",
                        "index_knee",
                        "kl_grade_left",
                        "kl_grade_right",
                        "screening_date",
                    )
                },
                "vas_screening_mm": screening.vas_index_knee_mm,
                "consent_date": (
                    timezone.localtime(consent.consented_at, zone).date() if consent else None
                ),
                "randomization_date": timezone.localtime(p.randomized_at, zone).date(),
                "first_injection_date": seen.get(injections[0], (None, False))[0],
                "second_injection_date": seen.get(injections[1], (None, False))[0],
                "last_visit_date": max(done[p.pk], default=None),
                "withdrawal_date": consent.withdrawn_on if consent else None,
                "adverse_events": events[p.pk],
                "serious_adverse_events": serious[p.pk],
            }
            day, missed = seen.get(last_visit, (None, False))
            if consent is not None and consent.is_withdrawn:
                row["completion_status"] = "withdrawn"
            elif day is not None:
                row["completion_status"] = "completed"
            elif missed:
                row["completion_status"] = "last_visit_missed"
            else:
                row["completion_status"] = "ongoing"
            yield row


# The analysis files: (file name, title, items, rows given the participants).
FILES = (
    (
        "analysis_visits",
        "Analysis file: one row per participant and visit",
        VISIT_ITEMS,
        visit_rows,
    ),
    (
        "analysis_participants",
        "Analysis file: one row per participant",
        PARTICIPANT_ITEMS,
        participant_rows,
    ),
)
TITLES = {name: title for name, title, _, _ in FILES}
NAMES = tuple(TITLES)
