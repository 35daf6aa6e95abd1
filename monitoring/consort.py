"""The CONSORT 2025 flow diagram of the study, live: every count read from the database, for
the sites a user may see. Per-arm boxes only for users who may see the arm; others see pooled
counts (one column), so the diagram never reveals an allocation.

`flow(user)` counts; `layout(flow)` places the boxes of the SVG that the page and the PDF
report both draw (templates/monitoring/_consort.svg)."""

from collections import Counter
from dataclasses import dataclass, field

from enrollment import end_of_study
from enrollment.models import Arm, EndOfStudy, Participant, Screening
from enrollment.selectors import consort_counts
from outcomes.models import VasPain
from trialsite import protocol
from visits.models import Injection

# The primary outcome analysed: VAS pain at the last visit (registry: primary outcomes).
PRIMARY_VISIT = protocol.VISIT_SCHEDULE[-1].code
INJECTION_VISITS = ("M0", "M6")
WITHDRAWN_CONSENT = "withdrawal_of_consent"


@dataclass
class Column:
    """One arm (or, pooled, every participant) down the diagram."""

    label: str
    allocated: int = 0
    received_m0: int = 0
    received_m6: int = 0
    lost: int = 0
    discontinued: int = 0
    discontinued_reasons: list[tuple[str, int]] = field(default_factory=list)
    analysed: int = 0

    @property
    def not_received_m0(self) -> int:
        return self.allocated - self.received_m0

    @property
    def not_analysed(self) -> int:
        return self.allocated - self.analysed


@dataclass
class Flow:
    assessed: int
    excluded: int
    excluded_reasons: list[tuple[str, int]]
    randomized: int
    columns: list[Column]
    by_arm: bool


def _ending(participant, ends: dict) -> str:
    """How a participant's study ended early: their end of study's reason, or withdrawal of
    consent recorded without one; "" while in follow-up or completed."""
    ended = ends.get(participant.pk)
    if ended is not None:
        return ended.reason
    return WITHDRAWN_CONSENT if participant.screening.consent.is_withdrawn else ""


def flow(user) -> Flow:
    """The counts of the diagram at the user's sites (a fixed number of queries)."""
    screenings = Screening.objects.visible_to(user)
    enrolment = consort_counts(screenings)
    excluded_reasons = list(enrolment.excluded_by_criterion)
    if enrolment.eligible_not_randomized:
        excluded_reasons.append(
            ("Eligible, not randomized (declined or pending)", enrolment.eligible_not_randomized)
        )
    participants = list(Participant.objects.visible_to(user).select_related("screening__consent"))
    ids = [p.pk for p in participants]
    injected = set(
        Injection.objects.filter(
            participant_id__in=ids, visit__code__in=INJECTION_VISITS
        ).values_list("participant_id", "visit__code")
    )
    analysed = set(
        VasPain.objects.filter(
            participant_id__in=ids, visit__code=PRIMARY_VISIT, score_mm__isnull=False
        ).values_list("participant_id", flat=True)
    )
    ends = {e.participant_id: e for e in EndOfStudy.objects.filter(participant_id__in=ids)}
    by_arm = user.sees_arm
    if by_arm:
        columns = {arm: Column(f"Arm {arm}: {label}") for arm, label in Arm.choices}
    else:
        columns = {"": Column("All randomized participants")}
    reasons: dict[str, Counter] = {key: Counter() for key in columns}
    for participant in participants:
        key = participant.arm if by_arm else ""
        column = columns[key]
        column.allocated += 1
        column.received_m0 += (participant.pk, "M0") in injected
        column.received_m6 += (participant.pk, "M6") in injected
        ending = _ending(participant, ends)
        if ending == "lost_to_follow_up":
            column.lost += 1
        elif ending:
            column.discontinued += 1
            reasons[key][ending] += 1
        column.analysed += participant.pk in analysed
    for key, column in columns.items():
        column.discontinued_reasons = [
            (label, reasons[key][code])
            for code, label in end_of_study.REASONS.items()
            if reasons[key][code]
        ]
    return Flow(
        assessed=enrolment.assessed,
        excluded=enrolment.assessed - enrolment.randomized,
        excluded_reasons=excluded_reasons,
        randomized=enrolment.randomized,
        columns=list(columns.values()),
        by_arm=by_arm,
    )


# --- Layout ----------------------------------------------------------------------------------
WIDTH = 760
LINE = 15  # px between lines of text
PAD = 8
CHARS_PER_PX = 1 / 7.4  # at most about 7.4 px per character at 12 px bold sans-serif


@dataclass
class Box:
    key: str
    x: int
    y: int
    w: int
    lines: list[str]
    bold: int = 1  # the first lines in bold (the box's count)

    @property
    def h(self) -> int:
        return len(self.lines) * LINE + 2 * PAD

    @property
    def text(self) -> list[tuple[int, int, str, bool]]:
        """(x, y, text, bold) of each line."""
        return [
            (self.x + PAD, self.y + PAD + (i + 1) * LINE - 4, line, i < self.bold)
            for i, line in enumerate(self.lines)
        ]

    @property
    def middle(self) -> int:
        return self.x + self.w // 2

    @property
    def bottom(self) -> int:
        return self.y + self.h


def _wrap(text: str, width: int) -> list[str]:
    limit = max(10, int((width - 2 * PAD) * CHARS_PER_PX))
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > limit:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines


def _box(key, x, y, w, head: str, details: list[str]) -> Box:
    lines = _wrap(head, w)
    bold = len(lines)
    for detail in details:
        lines += _wrap(detail, w)
    return Box(key, x, y, w, lines, bold)


@dataclass
class Diagram:
    width: int
    height: int
    boxes: list[Box]
    arrows: list[tuple[int, int, int, int]]  # x1, y1, x2, y2
    stages: list[tuple[int, str]]  # y, stage label (Enrolment, Allocation, ...)


def layout(found: Flow) -> Diagram:
    """Where each box of the diagram goes; arrows join them top to bottom."""
    boxes, arrows, stages = [], [], []
    centre, wide = WIDTH // 2, 300
    assessed = _box(
        "assessed",
        centre - wide // 2,
        10,
        wide,
        f"Assessed for eligibility (n={found.assessed})",
        [],
    )
    boxes.append(assessed)
    stages.append((assessed.y, "Enrolment"))
    excluded = _box(
        "excluded",
        centre + wide // 2 + 20,
        assessed.bottom + 10,
        WIDTH - (centre + wide // 2 + 20) - 5,
        f"Excluded (n={found.excluded})",
        [f"• {label} (n={n})" for label, n in found.excluded_reasons],
    )
    boxes.append(excluded)
    randomized_y = max(excluded.bottom, assessed.bottom + 40) + 20
    randomized = _box(
        "randomized",
        centre - wide // 2,
        randomized_y,
        wide,
        f"Randomized (n={found.randomized})",
        [],
    )
    boxes.append(randomized)
    arrows.append((centre, assessed.bottom, centre, randomized.y))
    branch = assessed.bottom + 10 + min(20, excluded.h // 2)
    arrows.append((centre, branch, excluded.x, branch))
    count = len(found.columns)
    gap = 20
    column_w = (WIDTH - 95 - gap * (count - 1)) // count
    xs = [90 + i * (column_w + gap) for i in range(count)]
    rows = [
        (
            "Allocation",
            lambda c: (
                f"Allocated: {c.label} (n={c.allocated})",
                [
                    f"Received the allocated month-0 injection (n={c.received_m0})",
                    f"Did not receive it (n={c.not_received_m0})",
                    f"Received the month-6 injection (n={c.received_m6})",
                ],
            ),
        ),
        (
            "Follow-up",
            lambda c: (
                f"Lost to follow-up (n={c.lost})",
                [f"Discontinued (n={c.discontinued})"]
                + [f"• {label} (n={n})" for label, n in c.discontinued_reasons],
            ),
        ),
        (
            "Analysis",
            lambda c: (
                f"Analysed for the primary outcome at {PRIMARY_VISIT} (n={c.analysed})",
                [f"Not analysed: no VAS pain at {PRIMARY_VISIT} (n={c.not_analysed})"],
            ),
        ),
    ]
    y = randomized.bottom + 30
    above = [randomized] * count
    for stage, text in rows:
        made = [
            _box(f"{stage.lower()}-{i}", xs[i], y, column_w, *text(column))
            for i, column in enumerate(found.columns)
        ]
        height = max(b.h for b in made)
        for i, box in enumerate(made):
            box.lines += [""] * ((height - box.h) // LINE)
            top = above[i]
            arrows.append(
                (top.middle if top is not randomized else centre, top.bottom, box.middle, box.y)
            )
        stages.append((y, stage))
        boxes += made
        above = made
        y += height + 30
    return Diagram(WIDTH, y, boxes, arrows, stages)
