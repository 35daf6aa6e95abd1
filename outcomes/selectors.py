"""Outcome tables and chart data, read from the database in a few aggregate queries."""

from dataclasses import dataclass, field

from django.db.models import Avg, Count, Q, StdDev

from enrollment.models import Arm, Participant
from outcomes import derived, womac
from outcomes.charts import Point, Series, line_chart
from outcomes.models import VasPain, Womac
from trialsite import protocol

SCHEDULE = [v.code for v in protocol.VISIT_SCHEDULE]
WOMAC_SCALES = ("pain", "stiffness", "function", "total")


@dataclass
class OutcomeRow:
    visit_code: str
    vas: int | None = None
    vas_missing: str = ""  # why there is no VAS ("Not done", ...)
    vas_change: float | None = None
    womac: dict = field(default_factory=dict)  # scale -> raw score
    womac_change: dict = field(default_factory=dict)
    responder: bool | None = None


def participant_outcomes(participant: Participant) -> list[OutcomeRow]:
    """VAS and WOMAC at each visit, with change from baseline (M0) at every later visit."""
    assessed = {
        c.visit.code: c
        for c in VasPain.objects.filter(participant=participant).select_related("visit")
    }
    vas = {code: c.score_mm for code, c in assessed.items()}
    womacs = {
        w.visit.code: w
        for w in Womac.objects.filter(participant=participant).select_related("visit")
    }
    codes = [code for code in SCHEDULE if code in vas or code in womacs]
    base_index = SCHEDULE.index(protocol.BASELINE_VISIT)
    base_vas = vas.get(protocol.BASELINE_VISIT)
    base_womac = womacs.get(protocol.BASELINE_VISIT)
    rows = []
    for code in codes:
        row = OutcomeRow(visit_code=code, vas=vas.get(code))
        if code in assessed and row.vas is None:
            row.vas_missing = assessed[code].get_score_mm_missing_display()
        w = womacs.get(code)
        if w is not None:
            row.womac = {scale: getattr(w, scale) for scale in WOMAC_SCALES}
        if SCHEDULE.index(code) > base_index:
            row.vas_change = derived.change(base_vas, row.vas)
            if w is not None and base_womac is not None:
                row.womac_change = {
                    scale: derived.change(getattr(base_womac, scale), getattr(w, scale))
                    for scale in WOMAC_SCALES
                }
                row.responder = derived.oarsi_responder(
                    base_womac.pain_normalised,
                    w.pain_normalised,
                    base_womac.function_normalised,
                    w.function_normalised,
                )
        rows.append(row)
    return rows


def participant_charts(participant: Participant, rows: list[OutcomeRow]) -> dict[str, str]:
    codes = [r.visit_code for r in rows]
    vas = Series("VAS pain (mm)", [Point(r.visit_code, r.vas) for r in rows if r.vas is not None])
    subscales = [
        Series(
            scale.capitalize(),
            [
                Point(r.visit_code, r.womac[scale] / womac.MAXIMUM[scale] * 100)
                for r in rows
                if r.womac.get(scale) is not None
            ],
        )
        for scale in WOMAC_SCALES
    ]
    return {
        "vas": line_chart(
            title=f"{participant.participant_id}: VAS pain",
            x_labels=codes,
            series=[vas],
            y_max=100,
            y_label="mm",
        ),
        "womac": line_chart(
            title=f"{participant.participant_id}: WOMAC (normalised 0-100, higher is worse)",
            x_labels=codes,
            series=subscales,
            y_max=100,
            y_label="0-100",
        ),
    }


def analysable(participants):
    """Participants whose data may be used: not withdrawn, or withdrawn allowing its use."""
    return participants.filter(
        Q(screening__consent__withdrawn_on__isnull=True)
        | Q(screening__consent__data_use_allowed=True)
    )


def pooled(model, value_field: str, participants, *, by_arm: bool) -> dict[tuple[str, str], dict]:
    """n, mean and SD of `value_field` per (group, visit), computed by the database.

    The group is the arm, or "all" when the viewer may not see arms.
    """
    group = "participant__arm" if by_arm else None
    fields = ["visit__code", *([group] if group else [])]
    rows = (
        model.objects.filter(
            participant__in=analysable(participants), **{f"{value_field}__isnull": False}
        )
        .values(*fields)
        .annotate(n=Count("id"), mean=Avg(value_field), sd=StdDev(value_field, sample=True))
        .order_by(*fields)
    )
    return {
        (row[group] if group else "all", row["visit__code"]): {
            "n": row["n"],
            "mean": row["mean"],
            "sd": row["sd"],
        }
        for row in rows
    }


def pooled_chart(
    model, value_field: str, participants, *, by_arm: bool, title: str, y_max: float, y_label: str
) -> str:
    stats = pooled(model, value_field, participants, by_arm=by_arm)
    groups = (
        [(code, f"Arm {code}") for code in Arm.values] if by_arm else [("all", "All participants")]
    )
    codes = [code for code in SCHEDULE if any(key[1] == code for key in stats)]
    series = [
        Series(
            label,
            [
                Point(
                    code,
                    stats[(group, code)]["mean"],
                    stats[(group, code)]["sd"],
                    stats[(group, code)]["n"],
                )
                for code in codes
                if (group, code) in stats
            ],
        )
        for group, label in groups
    ]
    return line_chart(title=title, x_labels=codes, series=series, y_max=y_max, y_label=y_label)
