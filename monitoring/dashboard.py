"""The participants × visits dashboard: one compact row per participant, one status per visit
derived from the forms due at it (overview.visit_state), the same status the visit's page shows,
read in a fixed number of queries per page: one per form, and a handful for visits,
verifications, queries, locks and signatures.

Filtered by a form, each visit shows that form's status instead of the visit's."""

from dataclasses import dataclass

from monitoring.overview import (
    ICONS,
    LABELS,
    VISIT_LABELS,
    Statuses,
    form_url,
    forms_done,
    log_counts,
    log_url,
    own_records,
    record_heads,
    visit_state,
    visit_summary,
)
from trialsite import compiled, protocol
from trialsite.crf import registry
from trialsite.crf.registry import Kind
from trialsite.links import link
from visits.models import Visit

SCHEDULE = [v.code for v in protocol.VISIT_SCHEDULE]
# The legend: every status a cell may show, in order.
LEGEND = {key: (ICONS[key], label) for key, label in VISIT_LABELS.items()}


@dataclass(frozen=True)
class Cell:
    """A visit of a participant (or their enrolment forms): its status and where to act."""

    status: str
    title: str  # what the icon says to screen readers and in its tooltip
    url: str | None
    open_queries: int = 0
    visit_id: int | None = None  # of a visit's cell

    @property
    def icon(self) -> str:
        return ICONS.get(self.status, "")


@dataclass(frozen=True)
class LogCell:
    title: str
    count: int
    url: str


@dataclass(frozen=True)
class EndCell:
    """A form of the end of the participant's study (end of study): what it says, or that it
    is not recorded yet."""

    title: str
    text: str
    url: str | None


def _end_cell(definition, record, participant) -> EndCell:
    if record is None:
        return EndCell(definition.title, "", None)
    return EndCell(
        definition.title, definition.description(record), form_url(definition, participant)
    )


@dataclass(frozen=True)
class Row:
    participant: object
    enrolment: Cell
    visits: list[Cell | None]  # in SCHEDULE order; None where the participant has no such visit
    logs: list[LogCell]
    endings: list["EndCell"]  # the participant's forms of the end of their study

    def visits_at(self, codes: list[str]) -> list[Cell | None]:
        return [c for code, c in zip(SCHEDULE, self.visits, strict=True) if code in codes]

    def shows(self, status: str, codes: list[str]) -> bool:
        """Whether a visit of `codes` (all when empty) has `status`."""
        return any(
            cell is not None and cell.status == status and (not codes or code in codes)
            for code, cell in zip(SCHEDULE, self.visits, strict=True)
        )


def grid(participants: list, user, *, form: str = "", today_of=None) -> list[Row]:
    """For each participant: the status of their enrolment forms, of each scheduled visit
    (or, given `form`, of that form at each visit) and the number of entries of each log.
    `today_of(site)` gives a site's today, for overdue visits."""
    ids = [p.pk for p in participants]
    statuses = Statuses(ids)
    visits = {(v.participant_id, v.code): v for v in compiled.objects((_visits,), _visits, ids)}
    own_forms = registry.visible_forms(user, Kind.PER_PARTICIPANT)
    per_participant = [f for f in own_forms if not f.at_end]
    at_end = [f for f in own_forms if f.at_end]
    ends = {
        p.pk: p.end_of_study.ended_on
        for p in participants
        if getattr(p, "end_of_study", None) is not None
    }
    per_visit = [f for f in registry.visible_forms(user, Kind.PER_VISIT) if not f.visit_record]
    if form:
        per_visit = [f for f in per_visit if f.name == form]
    logs = registry.visible_forms(user, Kind.LOG)
    own = own_records(own_forms, participants)
    at_visit = {(head.form, head.visit_id): head for head in record_heads(per_visit, ids)}
    entries = log_counts(logs, ids)
    # The forms due at a visit, by visit and arm (due_at reads nothing else), for per_visit.
    due_by = _DueForms(per_visit)
    rows = []
    for participant in participants:
        found = [(f, own.get((f.name, participant.pk))) for f in per_participant]
        own_statuses = [statuses.of(f, r, participant.pk, None) for f, r in found]
        enrolment = Cell(
            visit_state(own_statuses, held=False),
            f"Enrolment: {forms_done(own_statuses)}",
            _participant_url(participant),
            sum(statuses.open_queries(f, r) for f, r in found),
        )
        today = today_of(participant.site) if today_of is not None else None
        cells = [
            _visit_cell(
                visits.get((participant.pk, code)),
                participant,
                due_by,
                at_visit,
                statuses,
                (today, ends.get(participant.pk)),
                form,
            )
            for code in SCHEDULE
        ]
        endings = [_end_cell(f, own.get((f.name, participant.pk)), participant) for f in at_end]
        log_cells = [
            LogCell(
                f.titles,
                entries.get((f.name, participant.pk), 0),
                log_url(f, participant),
            )
            for f in logs
        ]
        rows.append(Row(participant, enrolment, cells, log_cells, endings))
    return rows


def _visits(ids):
    return Visit.objects.filter(participant_id__any=ids, code__in=SCHEDULE)


def _participant_url(participant) -> str:
    return link("participant_detail", participant.pk)


class _DueForms:
    """The forms of `definitions` due at a visit (FormDef.due_at), worked out once per visit
    code and arm, all that due_at reads: a page has 225 visits of 9 codes."""

    def __init__(self, definitions: list):
        self.definitions = definitions
        self.found = {}

    def at(self, visit, participant) -> list:
        key = (visit.code, participant.arm)
        if key not in self.found:
            visit.participant = participant  # for due_at, without a query
            self.found[key] = [f for f in self.definitions if f.due_at(visit)]
        return self.found[key]


def _visit_cell(visit, participant, due_by, at_visit, statuses, days, form) -> Cell | None:
    today, ended = days
    if visit is None:
        return None
    due = due_by.at(visit, participant)
    if form and not due:
        return None  # the form is not collected at this visit
    records = [(f, at_visit.get((f.name, visit.pk))) for f in due]
    form_statuses = [statuses.of(f, r, participant.pk, visit.pk) for f, r in records]
    if form:
        schedule = visit.status_on(today).value if today is not None else ""
        status = form_statuses[0]
        if records[0][1] is None:
            status = visit_state([], held=False, schedule=schedule)
        label = LABELS.get(status) or VISIT_LABELS[status]
    else:
        signed = statuses.covers(participant.pk, visit.pk)
        status, label = visit_summary(visit, form_statuses, today, ended=ended, signed=signed)
    return Cell(
        status,
        f"{visit.code}: {label}",
        link("visit_detail", participant.pk, visit.pk),
        sum(statuses.open_queries(f, r) for f, r in records),
        visit.pk,
    )
