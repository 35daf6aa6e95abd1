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

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import F, Q
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


def findings(user) -> list[Finding]:
    """Every finding at the user's sites, check by check; each check reads a fixed number of
    queries (one per form at most)."""
    now = timezone.now()
    return [
        *_missing_forms(user),
        *_out_of_window(user),
        *_query_findings(
            UNUSUAL,
            query_rules.visible_queries(user).filter(automatic=True, state=DataQuery.State.OPEN),
            now,
        ),
        *_incomplete_forms(user, now),
        *_query_findings(
            QUERIES,
            query_rules.visible_queries(user).filter(
                state=DataQuery.State.OPEN,
                opened_at__lt=now - timedelta(days=protocol.OPEN_QUERY_DAYS),
            ),
            now,
        ),
        *_deaths_not_ended(user),
    ]


def _deaths_not_ended(user) -> list[Finding]:
    """A fatal adverse event must be matched by the end of study (enrollment/end_of_study.py);
    the event is saved first, so until the end of study is recorded this lists it."""
    definition = registry.get("adverse_event")
    if not definition.visible_to(user):
        return []
    fatal = (
        definition.records_visible_to(user)
        .filter(outcome=FATAL_OUTCOME)
        .exclude(participant__end_of_study__reason=end_of_study.DEATH)
        .order_by("participant__participant_id", "number")
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
    ]


def counts(found: list[Finding]) -> dict[str, int]:
    return {check: sum(1 for f in found if f.check == check) for check in CHECKS}


def _visits(user):
    return (
        Visit.objects.filter(participant__site_id__in=user.site_ids)
        .select_related("participant", "participant__site")
        .order_by("participant__participant_id", "window_opens")
    )


def _missing_forms(user) -> list[Finding]:
    expected = _visits(user).filter(missed_reason="", window_closes__isnull=False)
    expected = expected.exclude(participant__end_of_study__ended_on__lte=F("window_closes"))
    closed = [v for v in expected if v.window_closes < v.participant.site.today()]
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
        for visit, definition in forms_not_entered(closed, user)
    ]


def _out_of_window(user) -> list[Finding]:
    held = _visits(user).filter(
        Q(visit_date__lt=F("window_opens")) | Q(visit_date__gt=F("window_closes"))
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
    ]


def _visit_url(visit) -> str:
    return reverse("visit_detail", args=[visit.participant_id, visit.pk])


def _incomplete_forms(user, now) -> list[Finding]:
    before = now - timedelta(days=protocol.INCOMPLETE_FORM_DAYS)
    found = []
    for definition in registry.visible_forms(user, Kind.PER_VISIT):
        if definition.visit_record or not hasattr(definition.model, "status"):
            continue
        records = definition.records_visible_to(user).filter(
            status=CrfStatus.IN_PROGRESS, modified_at__lt=before
        )
        for record in records:
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
    return found


def _query_findings(check: str, rows, now) -> list[Finding]:
    rows = rows.select_related("participant").order_by("opened_at", "pk")
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
    ]
