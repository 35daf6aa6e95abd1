"""The participants × visits dashboard: the status of every form of each participant on the
page (overview.Statuses), read in a fixed number of queries per page: one per form, and a
handful for verifications, queries, locks and signatures."""

from dataclasses import dataclass

from django.db.models import Count

from monitoring.overview import LABELS, Statuses, form_url, log_url
from trialsite import protocol
from trialsite.crf import registry
from trialsite.crf.registry import Kind
from visits.models import Visit

SCHEDULE = [v.code for v in protocol.VISIT_SCHEDULE]


@dataclass(frozen=True)
class Cell:
    title: str
    status: str
    url: str | None
    open_queries: int

    @property
    def label(self) -> str:
        return LABELS.get(self.status, "")


@dataclass(frozen=True)
class Row:
    participant: object
    forms: list[Cell]  # the participant's own forms (screening, consent, ...)
    visits: list[list[Cell]]  # the forms of each visit, in SCHEDULE order
    logs: list[Cell]  # each log with its number of entries


def grid(participants: list, user) -> list[Row]:
    """For each participant, the status of each of their forms the user may see: their own
    forms, the forms due at each scheduled visit, and the number of entries of each log."""
    ids = [p.pk for p in participants]
    statuses = Statuses(ids)
    visits = {
        (v.participant_id, v.code): v
        for v in Visit.objects.filter(participant_id__in=ids, code__in=SCHEDULE)
    }
    per_participant = registry.visible_forms(user, Kind.PER_PARTICIPANT)
    per_visit = [f for f in registry.visible_forms(user, Kind.PER_VISIT) if not f.visit_record]
    logs = registry.visible_forms(user, Kind.LOG)
    own = {(f.name, f.participant_of(r).pk): r for f in per_participant for r in f.records_of(ids)}
    at_visit = {
        (f.name, r.visit_id): r
        for f in per_visit
        for r in f.model.objects.filter(participant_id__in=ids).only(
            "id", "participant_id", "visit_id", "status", "version", "modified_at"
        )
    }
    entries = {
        (f.name, row["participant"]): row["n"]
        for f in logs
        for row in f.model.objects.filter(participant_id__in=ids)
        .values("participant")
        .annotate(n=Count("id"))
    }

    rows = []
    for participant in participants:
        forms = []
        for f in per_participant:
            record = own.get((f.name, participant.pk))
            status = statuses.of(f, record, participant.pk, None)
            url = form_url(f, participant, record=record) if record else None
            forms.append(Cell(f.title, status, url, statuses.open_queries(f, record)))
        cells = []
        for code in SCHEDULE:
            visit = visits.get((participant.pk, code))
            cells.append(
                []
                if visit is None
                else _visit_cells(visit, participant, per_visit, logs, at_visit, statuses)
            )
        log_cells = [
            Cell(
                f"{f.titles}: {entries.get((f.name, participant.pk), 0)}",
                "",
                log_url(f, participant),
                0,
            )
            for f in logs
        ]
        rows.append(Row(participant, forms, cells, log_cells))
    return rows


def _visit_cells(visit, participant, per_visit, logs, at_visit, statuses) -> list[Cell]:
    """The status of each form of the visit; a log the protocol asks about at the visit (adverse
    events at a safety call) links to the participant's log."""
    visit.participant = participant  # for due_at, without a query
    cells = [Cell(f.titles, "", log_url(f, participant), 0) for f in logs if f.due_at(visit)]
    for f in per_visit:
        if not f.due_at(visit):
            continue
        record = at_visit.get((f.name, visit.pk))
        cells.append(
            Cell(
                f.title,
                statuses.of(f, record, participant.pk, visit.pk),
                form_url(f, participant, visit=visit),
                statuses.open_queries(f, record),
            )
        )
    return cells
