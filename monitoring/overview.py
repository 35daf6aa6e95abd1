"""What the participant and visit pages show, read from the form registry: where each form is
entered, and each form's record with its status (not started, in progress, complete,
source-verified, signed, locked)."""

from collections import Counter
from dataclasses import dataclass

from django.db.models import (
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.template.defaultfilters import pluralize

from monitoring.models import DataQuery, Signature, SourceVerification
from trialsite import compiled
from trialsite.crf import registry
from trialsite.crf.models import CrfStatus, Lock
from trialsite.crf.registry import FormDef, Kind
from trialsite.links import link
from trialsite.paging import first_and_count
from visits.models import Visit


def form_url(definition: FormDef, participant, *, visit=None, record=None) -> str | None:
    """Where the form is entered or shown: the one form view (a visit's form, a log entry, or
    a new log entry when `record` is None), or the form's own page."""
    if definition.entered_here:
        kwargs = {"participant_pk": participant.pk, "form": definition.slug}
        if definition.kind == Kind.PER_VISIT:
            kwargs["visit_pk"] = visit.pk if visit is not None else definition.visit_id_of(record)
        elif definition.kind == Kind.LOG:
            kwargs["number"] = record.number if record is not None else "new"
        return link("form_entry", **kwargs)
    if record is not None and definition.page is not None:
        return definition.page(record)
    return None


def record_url(definition: FormDef, record) -> str | None:
    """The page of one saved record: a log entry's own page if it has one, else where it is
    entered."""
    if definition.detail_page is not None:
        return definition.detail_page(record)
    return form_url(definition, definition.participant_of(record), record=record)


NOT_STARTED, IN_PROGRESS, COMPLETE, VERIFIED, SIGNED, LOCKED = (
    "not_started",
    "in_progress",
    "complete",
    "verified",
    "signed",
    "locked",
)
LABELS = {
    NOT_STARTED: "Not started",
    IN_PROGRESS: "In progress",
    COMPLETE: "Complete",
    VERIFIED: "Source-verified",
    SIGNED: "Signed",
    LOCKED: "Locked",
}
# A visit's status, from its forms (visit_state); and from its schedule where nothing was
# entered: overdue, or missed.
INCOMPLETE, OVERDUE, MISSED, ENDED = "incomplete", "overdue", "missed", "ended"
VISIT_LABELS = {
    NOT_STARTED: "Not started",
    INCOMPLETE: "Incomplete",
    COMPLETE: "Complete",
    VERIFIED: "Source-verified",
    SIGNED: "Signed",
    LOCKED: "Locked",
    OVERDUE: "Overdue, nothing entered",
    MISSED: "Missed",
    ENDED: "Not expected: study ended",
}
# Icons differ in shape as well as colour (status-<key> in trialsite.css gives the colour).
ICONS = {
    NOT_STARTED: "○",
    IN_PROGRESS: "◐",
    INCOMPLETE: "◐",
    COMPLETE: "●",
    VERIFIED: "✔",
    SIGNED: "◆",
    LOCKED: "■",
    OVERDUE: "▲",
    MISSED: "✕",
    ENDED: "–",
}
# From the least to the most advanced: a visit is as far as its least advanced form.
_ORDER = [NOT_STARTED, IN_PROGRESS, COMPLETE, VERIFIED, SIGNED, LOCKED]


def visit_state(
    form_statuses: list[str], *, held: bool, schedule: str = "", signed: bool = False
) -> str:
    """A visit's status from the statuses of the forms due at it (Statuses.of): locked,
    signed, verified or complete when every form is at least that; incomplete when some data
    were entered (a form, or the visit's date: `held`) but not every form is complete; else
    missed or overdue as its schedule says (visits.schedule.Status), or not started. A held
    visit that collects no form is complete, and signed once a signature covers it (`signed`:
    Statuses.covers)."""
    reached = [_ORDER.index(status) for status in form_statuses]
    least = min(reached, default=_ORDER.index(SIGNED if signed else COMPLETE) if held else 0)
    if least >= _ORDER.index(COMPLETE):
        return _ORDER[least]
    if held or any(r > 0 for r in reached):
        return INCOMPLETE
    if schedule in (OVERDUE, MISSED):
        return schedule
    return NOT_STARTED


def forms_done(form_statuses: list[str]) -> str:
    """ "2 of 5 forms complete"; "no forms" for a visit that collects none."""
    if not form_statuses:
        return "no forms"
    done = sum(1 for s in form_statuses if s not in (NOT_STARTED, IN_PROGRESS))
    return f"{done} of {len(form_statuses)} form{pluralize(len(form_statuses))} complete"


def visit_summary(
    visit, form_statuses: list[str], today, *, ended=None, signed: bool = False
) -> tuple[str, str]:
    """(status, words) of a visit from the statuses of its per-visit forms, on the site's
    `today`: what the dashboard and the visit's page both show. A visit with nothing entered
    after the participant's study `ended` (the day) is not expected."""
    schedule = visit.status_on(today).value if today is not None else ""
    held = visit.visit_date is not None
    status = visit_state(form_statuses, held=held, schedule=schedule, signed=signed)
    if ended is not None and status in (NOT_STARTED, OVERDUE) and _after(visit, ended):
        return ENDED, VISIT_LABELS[ENDED]
    return status, f"{VISIT_LABELS[status]} ({forms_done(form_statuses)})"


def _after(visit, ended) -> bool:
    """The visit's window had not closed by the day the study ended."""
    return visit.window_closes is None or visit.window_closes >= ended


def visit_status_of(
    visit, links: list, today, *, ended=None, signed: bool = False
) -> tuple[str, str]:
    """visit_summary from the visit's form links (visit_links)."""
    statuses = [link.status for link in links if link.definition.kind == Kind.PER_VISIT]
    return visit_summary(visit, statuses, today, ended=ended, signed=signed)


class Statuses:
    """Source verifications, open queries, locks and signatures of some participants, read
    once, to tell the status of any of their records."""

    def __init__(self, participant_ids: list[int]):
        # Verifications and open queries in one query: (table, row, version verified or
        # None for a query, when verified).
        # (Compiled once per process: trialsite.compiled.)
        ids = list(participant_ids)
        rows = compiled.rows((_verifications_and_queries,), _verifications_and_queries, ids)
        self.verified = {
            (table, row): version
            for table, row, version, at in sorted(
                (r for r in rows if r[3] is not None), key=lambda r: r[3]
            )
        }
        self.queries = Counter((table, row) for table, row, _, at in rows if at is None)
        locks = list(
            Lock.objects.active()
            .filter(
                Q(scope=Lock.Scope.STUDY)
                | Q(participant_id__in=ids)
                | Q(visit__participant_id__in=ids)
            )
            .select_related("locked_by")
            .order_by("locked_at")
        )
        self.locks = locks
        self.study_locked = any(lock.scope == Lock.Scope.STUDY for lock in locks)
        self.locked_participants = {
            lock.participant_id for lock in locks if lock.scope == "participant"
        }
        self.locked_visits = {lock.visit_id for lock in locks if lock.scope == "visit"}
        self.locked_rows = {
            (lock.table_name, lock.row_pk) for lock in locks if lock.scope == "record"
        }
        # Latest signature time per visit, and per casebook (visit None). The visit's page
        # checks the hash; here a record saved after the signature is simply not "signed".
        # Read as rows, and made Signatures only for the casebooks' (a page of the dashboard
        # has a signature for each of its 225 visits, and needs only their times).
        signatures = compiled.prepare((_signatures,), _signatures, 1)
        names = signatures.columns
        participant, visit, at = (
            names.index(n) for n in ("participant_id", "visit_id", "signed_at")
        )
        self.signed_at = {}
        self.casebook_signed = []  # Signatures of casebooks, the earliest first
        for row in signatures.run((ids,)):
            self.signed_at[(row[participant], row[visit])] = row[at]
            if row[visit] is None:
                self.casebook_signed.append(Signature.from_db(signatures.db, names, row))

    def covering_lock(self, participant_id: int) -> Lock | None:
        """As locking.covering_lock(participant=...): the earliest active lock of the study or
        of the participant."""
        return next(
            (
                lock
                for lock in self.locks
                if lock.scope == Lock.Scope.STUDY
                or (lock.scope == Lock.Scope.PARTICIPANT and lock.participant_id == participant_id)
            ),
            None,
        )

    def covers(self, participant_id: int, visit_id: int) -> bool:
        """A signature of the visit or of the participant's casebook was made."""
        return any(
            key in self.signed_at for key in ((participant_id, visit_id), (participant_id, None))
        )

    def casebook_signatures(self, participant_id: int) -> list:
        """The participant's casebook signatures (of no one visit), the latest first."""
        return [s for s in reversed(self.casebook_signed) if s.participant_id == participant_id]

    def of(self, definition, record, participant_id: int, visit_id: int | None) -> str:
        if record is None:
            return NOT_STARTED
        key = (definition.table, str(record.pk))
        if (
            self.study_locked
            or participant_id in self.locked_participants
            or visit_id in self.locked_visits
            or key in self.locked_rows
        ):
            return LOCKED
        times = (
            self.signed_at.get((participant_id, visit_id)),
            self.signed_at.get((participant_id, None)),
        )
        signed = max((t for t in times if t), default=None)
        modified = getattr(record, "modified_at", None)
        if signed is not None and modified is not None and modified <= signed:
            return SIGNED
        version = getattr(record, "version", None)
        if version is not None and self.verified.get(key) == version:
            return VERIFIED
        if getattr(record, "is_complete", True):
            return COMPLETE
        return IN_PROGRESS

    def open_queries(self, definition, record) -> int:
        return self.queries.get((definition.table, str(record.pk)), 0) if record else 0


def _verifications_and_queries(ids) -> QuerySet:
    """Source verifications and open queries of participants, for Statuses: (table, row,
    version verified or None for a query, when verified)."""
    verifications = (
        SourceVerification.objects.filter(participant_id__any=ids)
        .order_by()
        .annotate(at=F("verified_at"), verified=F("version"))
        .values_list("table_name", "row_pk", "verified", "at")
    )
    open_queries = (
        DataQuery.objects.filter(participant_id__any=ids, state=DataQuery.State.OPEN)
        .order_by()
        .annotate(
            verified=Value(None, output_field=IntegerField()),
            at=Value(None, output_field=DateTimeField()),
        )
        .values_list("table_name", "row_pk", "verified", "at")
    )
    return verifications.union(open_queries, all=True)


def _signatures(ids) -> QuerySet:
    """Every column of the participants' signatures, the earliest first, for Statuses."""
    names = [field.attname for field in Signature._meta.concrete_fields]
    return (
        Signature.objects.filter(participant_id__any=ids).order_by("signed_at").values_list(*names)
    )


@dataclass(frozen=True)
class FormLink:
    definition: FormDef
    url: str | None
    record: object = None
    status: str = ""
    open_queries: int = 0

    @property
    def title(self) -> str:
        return self.definition.title

    @property
    def description(self) -> str:
        return self.definition.description(self.record)

    @property
    def status_label(self) -> str:
        return LABELS.get(self.status, "")

    @property
    def icon(self) -> str:
        return ICONS.get(self.status, "")


def visit_links(visit, participant, user, records: dict, statuses) -> list[FormLink]:
    """The forms due at a visit that the user may see, with their records (participant_records)
    and statuses; a log named at the visit (adverse events at a safety call) links to its list
    on the participant's page."""
    links = []
    for definition in registry.due_forms(visit, user):
        if definition.visit_record:
            continue
        if definition.kind == Kind.PER_VISIT:
            record = records.get((definition.name, visit.pk))
            links.append(
                FormLink(
                    definition,
                    form_url(definition, participant, visit=visit),
                    record,
                    statuses.of(definition, record, participant.pk, visit.pk),
                    statuses.open_queries(definition, record),
                )
            )
        elif definition.kind == Kind.LOG:
            links.append(FormLink(definition, log_url(definition, participant)))
        else:
            links.append(own_form(definition, participant, records, statuses))
    return links


def forms_not_entered(
    visits: QuerySet, user, order: tuple[str, ...], limit: int | None, *, complete: bool = False
) -> tuple[list[tuple], int]:
    """(visit, form) for each per-visit form entered on its page that is due at one of
    `visits` and has no record there (with `complete`, no complete record), found in the
    database: the first `limit` (None: all) by `order` (paths from the visit), then the form's
    order, and how many there are in all; in three queries. Only visits not known to have every
    form complete are read."""
    forms = [
        f
        for f in registry.visible_forms(user, Kind.PER_VISIT)
        if not f.visit_record and f.entered_here
    ]
    if not forms:
        return [], 0
    keys = {f"sort_{i}": F(path) for i, path in enumerate(order)}
    # Visits whose forms were all complete at the last save are left out (Visit.forms_complete,
    # False whenever unsure): the others are found once, from its partial index, and each
    # form's part looks them up by id. (Each part joining the visits with the sites'
    # participants read every participant of the sites once per form.)
    outstanding = list(visits.filter(forms_complete=False).order_by().values_list("pk", flat=True))
    if not outstanding:
        return [], 0
    visits = Visit.objects.filter(pk__any=outstanding)
    parts = []
    for index, definition in enumerate(forms):
        records = definition.model.objects.filter(visit=OuterRef("pk"))
        if complete:
            records = records.filter(status=CrfStatus.COMPLETE)
        parts.append(
            visits.filter(definition.due_where())
            .exclude(Exists(records))
            .order_by()
            .annotate(**keys, form=Value(index))
            .values_list(*keys, "form", "pk")
        )
    rows, total = first_and_count(parts[0].union(*parts[1:], all=True), (*keys, "form"), limit)
    found = Visit.objects.select_related("participant", "participant__site").in_bulk(
        [pk for *_, pk in rows]
    )
    return [(found[pk], forms[index]) for *_, index, pk in rows], total


def log_url(definition: FormDef, participant) -> str:
    """Where the participant's page lists the entries of a log."""
    return link("participant_detail", participant.pk) + f"#{definition.slug}"


def participant_records(participant, user) -> dict:
    """The participant's records the user may see: of per-visit forms by (form name, visit id)
    as RecordHeads (one query for every form), of their own forms by (form name, None), from
    the participant when read with participant_related() (else one query per form)."""
    own = [d for d in registry.visible_forms(user, Kind.PER_PARTICIPANT) if not d.visit_record]
    found = {(name, None): record for (name, _), record in own_records(own, [participant]).items()}
    per_visit = [d for d in registry.visible_forms(user, Kind.PER_VISIT) if not d.visit_record]
    for head in record_heads(per_visit, [participant.pk]):
        found[(head.form, head.visit_id)] = head
    return found


def own_records(definitions: list[FormDef], participants: list) -> dict:
    """Records of per-participant forms by (form name, participant id): taken from the
    participants where they were read with them (participant_related), else one query per
    form."""
    found = {}
    for definition in definitions:
        path = definition.from_participant
        if path is None:
            for record in definition.records_of(participants):
                found[(definition.name, definition.participant_of(record).pk)] = record
            continue
        for participant in participants:
            record = definition.follow(participant, path or "pk")
            if record is not None:
                found[(definition.name, participant.pk)] = record
    return found


def log_counts(definitions: list[FormDef], participant_ids: list[int]) -> dict:
    """How many entries each participant has in each log, by (form name, participant id):
    every log in one query (compiled once per set of logs)."""
    if not definitions:
        return {}
    found = compiled.rows(
        (log_counts, *(d.name for d in definitions)),
        lambda ids: _union(
            definition.model.objects.filter(participant_id__any=ids)
            .order_by()
            .values("participant_id")
            .annotate(n=Count("id"), form=Value(definition.name, output_field=CharField()))
            .values_list("participant_id", "n", "form")
            for definition in definitions
        ),
        list(participant_ids),
    )
    return {(form, participant_id): n for participant_id, n, form in found}


def participant_related(user) -> list[str]:
    """What to read with a participant (select_related) for participant_records to find their
    own forms without a query each."""
    return sorted(
        {
            definition.from_participant
            for definition in registry.visible_forms(user, Kind.PER_PARTICIPANT)
            if definition.from_participant
        }
    )


@dataclass(frozen=True)
class RecordHead:
    """What the status of a per-visit record is told from (Statuses.of), without its answers."""

    form: str
    pk: int
    participant_id: int
    visit_id: int
    status: str
    version: int
    modified_at: object

    @property
    def is_complete(self) -> bool:
        return self.status == CrfStatus.COMPLETE


def record_heads(definitions: list[FormDef], participant_ids: list[int]) -> list[RecordHead]:
    """The records of these per-visit forms of these participants, every form in one query
    (compiled once per set of forms)."""
    if not definitions:
        return []
    found = compiled.rows(
        (record_heads, *(d.name for d in definitions)),
        lambda ids: _union(
            definition.model.objects.filter(participant_id__any=ids)
            .order_by()
            .annotate(form=Value(definition.name, output_field=CharField()))
            .values_list(
                "id", "participant_id", "visit_id", "status", "version", "modified_at", "form"
            )
            for definition in definitions
        ),
        list(participant_ids),
    )
    return [
        RecordHead(form, pk, participant_id, visit_id, status, version, modified_at)
        for pk, participant_id, visit_id, status, version, modified_at, form in found
    ]


def _union(querysets) -> QuerySet:
    """The rows of every queryset (UNION ALL)."""
    first, *others = querysets
    return first.union(*others, all=True) if others else first


def own_form(definition: FormDef, participant, records: dict, statuses) -> FormLink:
    """One of the participant's own forms (screening, consent, ...) with its status."""
    record = records.get((definition.name, None))
    return FormLink(
        definition,
        form_url(definition, participant, record=record),
        record,
        statuses.of(definition, record, participant.pk, None),
        statuses.open_queries(definition, record),
    )
