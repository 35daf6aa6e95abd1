"""The data-quality report for data managers: what needs chasing, each line linking to the
record. Checks, in the report's order:

- forms missing after their visit's window closed (a visit not recorded as missed);
- visits held outside their window;
- unusual values a user confirmed at entry (soft checks, which opened a query);
- forms left incomplete for more than protocol.INCOMPLETE_FORM_DAYS;
- queries open for more than protocol.OPEN_QUERY_DAYS;
- fatal adverse events whose participant has no end of study giving death.

Visits after a participant's end of study are not expected: their forms are not missing.

What the user may not see (other sites, forms that reveal the arm) is not read.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import F, Q, QuerySet, Value
from django.urls import reverse
from django.utils import timezone

from enrollment import end_of_study
from monitoring import queries as query_rules
from monitoring.models import DataQuery
from monitoring.overview import form_url, forms_not_entered
from trialsite import protocol
from trialsite.choices import FATAL_OUTCOME
from trialsite.crf import registry
from trialsite.crf.models import CrfStatus
from trialsite.crf.registry import Kind
from trialsite.paging import first_and_count
from trialsite.sites.models import Site
from visits.models import Visit

MISSING, WINDOW, UNUSUAL, INCOMPLETE, QUERIES, DEATH = (
    "missing",
    "window",
    "unusual",
    "incomplete",
    "queries",
    "death",
)
CHECKS = {
    MISSING: "Forms missing after their window closed",
    WINDOW: "Visits held outside their window",
    UNUSUAL: "Unusual values confirmed at entry",
    INCOMPLETE: f"Forms incomplete for more than {protocol.INCOMPLETE_FORM_DAYS} days",
    QUERIES: f"Queries open for more than {protocol.OPEN_QUERY_DAYS} days",
    DEATH: "Fatal adverse events without an end of study giving death",
}


@dataclass(frozen=True)
class Finding:
    check: str
    participant_id: str
    visit: str  # visit code, "" when the record belongs to no visit
    what: str  # the form, or what is wrong
    detail: str
    since: date | None
    url: str | None

    @property
    def check_label(self) -> str:
        return CHECKS[self.check]


def report(user, limit: int | None, checks=tuple(CHECKS)) -> dict[str, tuple[list[Finding], int]]:
    """Each check's first `limit` findings at the user's sites (None: all of them; 0: none) and
    how many it has in all, found in the database: a fixed number of queries per check."""
    now = timezone.now()
    queries = query_rules.visible_queries(user).filter(state=DataQuery.State.OPEN)
    old_queries = queries.filter(opened_at__lt=now - timedelta(days=protocol.OPEN_QUERY_DAYS))
    run = {
        MISSING: lambda: _missing_forms(user, limit),
        WINDOW: lambda: _out_of_window(user, limit),
        UNUSUAL: lambda: _query_findings(UNUSUAL, queries.filter(automatic=True), now, limit),
        INCOMPLETE: lambda: _incomplete_forms(user, now, limit),
        QUERIES: lambda: _query_findings(QUERIES, old_queries, now, limit),
        DEATH: lambda: _deaths_not_ended(user, limit),
    }
    return {check: run[check]() for check in checks}


def findings(user, checks=tuple(CHECKS)) -> list[Finding]:
    """Every finding of `checks` at the user's sites, check by check (the CSV)."""
    return [f for found, _ in report(user, None, checks).values() for f in found]


def counts(user) -> dict[str, int]:
    """How many findings each check has at the user's sites."""
    return {check: total for check, (_, total) in report(user, 0).items()}


def _first(rows: QuerySet, limit: int | None) -> tuple[list, int]:
    """The first `limit` of `rows` (None: all) and how many there are."""
    if limit is None:
        found = list(rows)
        return found, len(found)
    return (list(rows[:limit]) if limit else []), rows.count()


def _deaths_not_ended(user, limit) -> tuple[list[Finding], int]:
    """A fatal adverse event must be matched by the end of study (enrollment/end_of_study.py);
    the event is saved first, so until the end of study is recorded this lists it."""
    definition = registry.get("adverse_event")
    if not definition.visible_to(user):
        return [], 0
    fatal, total = _first(
        definition.records_visible_to(user)
        .filter(outcome=FATAL_OUTCOME)
        .exclude(participant__end_of_study__reason=end_of_study.DEATH)
        .order_by("participant__participant_id", "number"),
        limit,
    )
    return [
        Finding(
            DEATH,
            ae.participant.participant_id,
            "",
            f"{definition.title} {ae.number}",
            f"{ae.verbatim_term}: record the end of study (death)",
            ae.end_date or ae.onset_date,
            reverse("ae_detail", args=[ae.pk]),
        )
        for ae in fatal
    ], total


def _visits(user):
    return Visit.objects.filter(participant__site_id__in=user.site_ids)


def _missing_forms(user, limit) -> tuple[list[Finding], int]:
    """Forms with no record at visits whose window closed before the site's today."""
    closed = Q(pk__in=[])
    for site in Site.objects.filter(pk__in=user.site_ids):
        closed |= Q(participant__site=site, window_closes__lt=site.today())
    expected = _visits(user).filter(closed, missed_reason="")
    expected = expected.exclude(participant__end_of_study__ended_on__lte=F("window_closes"))
    missing, total = forms_not_entered(
        expected, user, ("participant__participant_id", "window_opens"), limit
    )
    return [
        Finding(
            MISSING,
            visit.participant.participant_id,
            visit.code,
            definition.title,
            f"window closed {visit.window_closes:%Y-%m-%d}",
            visit.window_closes,
            form_url(definition, visit.participant, visit=visit),
        )
        for visit, definition in missing
    ], total


def _out_of_window(user, limit) -> tuple[list[Finding], int]:
    held, total = _first(
        _visits(user)
        .filter(Q(visit_date__lt=F("window_opens")) | Q(visit_date__gt=F("window_closes")))
        .select_related("participant")
        .order_by("participant__participant_id", "window_opens", "pk"),
        limit,
    )
    return [
        Finding(
            WINDOW,
            visit.participant.participant_id,
            visit.code,
            "Visit date",
            f"held {visit.visit_date:%Y-%m-%d}, window {visit.window_opens:%Y-%m-%d} to "
            f"{visit.window_closes:%Y-%m-%d}",
            visit.visit_date,
            _visit_url(visit),
        )
        for visit in held
    ], total


def _visit_url(visit) -> str:
    return reverse("visit_detail", args=[visit.participant_id, visit.pk])


def _incomplete_forms(user, now, limit) -> tuple[list[Finding], int]:
    """Per-visit records in progress, last saved before the limit, form by form: one query
    for the first `limit` and their count, one per form listed."""
    before = now - timedelta(days=protocol.INCOMPLETE_FORM_DAYS)
    forms = [
        d
        for d in registry.visible_forms(user, Kind.PER_VISIT)
        if not d.visit_record and hasattr(d.model, "status")
    ]
    parts = [
        definition.records_visible_to(user)
        .filter(status=CrfStatus.IN_PROGRESS, modified_at__lt=before)
        .order_by()
        .annotate(form=Value(index))
        .values_list("form", "pk")
        for index, definition in enumerate(forms)
    ]
    if not parts:
        return [], 0
    rows, total = first_and_count(parts[0].union(*parts[1:], all=True), ("form", "pk"), limit)
    wanted = defaultdict(list)
    for index, pk in rows:
        wanted[index].append(pk)
    records = {
        (index, record.pk): record
        for index, pks in wanted.items()
        for record in forms[index].records().filter(pk__in=pks)
    }
    found = []
    for index, pk in rows:
        definition, record = forms[index], records[(index, pk)]
        participant = definition.participant_of(record)
        visit = definition.follow(record, definition.visit_path)
        site = definition.follow(record, definition.site_path)  # read with the record
        saved = timezone.localtime(record.modified_at, site.zone)
        found.append(
            Finding(
                INCOMPLETE,
                participant.participant_id,
                visit.code,
                definition.title,
                f"last saved {saved:%Y-%m-%d}",
                saved.date(),
                form_url(definition, participant, visit=visit),
            )
        )
    return found, total


def _query_findings(check: str, rows, now, limit) -> tuple[list[Finding], int]:
    rows, total = _first(rows.select_related("participant").order_by("opened_at", "pk"), limit)
    return [
        Finding(
            check,
            row.query.participant.participant_id,
            row.visit,
            f"{row.form}: {row.query.field_label}",
            row.question,
            row.query.opened_at.date(),
            row.url,
        )
        for row in query_rules.query_rows(rows, now)
    ], total
