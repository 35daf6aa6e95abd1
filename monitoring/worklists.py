"""The work lists of the home page: what each role has to do next, each line linking to where
it is done. A user sees the lists of every role permission they hold:

- entering data (coordinators): overdue and upcoming visits, forms due or incomplete at visits
  held, open queries to answer;
- signing (investigators): serious adverse events with their due time, adverse events and
  visits to sign;
- verifying source data (monitors): the verification backlog, their queries still open;
- locking data (data managers): the data-quality report, check by check.

Each list shows its first LIMIT lines and how many there are in all.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Cast, Coalesce
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Participant
from monitoring import dashboard, overview, quality, verification
from monitoring import queries as query_rules
from monitoring.models import DataQuery, Signature, SourceVerification
from monitoring.overview import form_url, forms_not_entered
from safety.models import AdverseEvent
from trialsite import compiled, protocol
from trialsite.crf import registry
from trialsite.crf.models import CrfStatus, Lock
from trialsite.crf.registry import Kind
from visits import selectors as visit_selectors
from visits.models import Visit

LIMIT = 10
NEVER = datetime(1, 1, 1, tzinfo=UTC)  # before any signature


@dataclass(frozen=True)
class Line:
    text: str
    url: str | None
    note: str = ""
    urgent: bool = False


@dataclass(frozen=True)
class WorkList:
    key: str
    title: str
    lines: list[Line] = field(default_factory=list)
    more_url: str | None = None  # where the whole list is
    total: int = 0
    at_least: bool = False  # the total was counted only this far: there are more

    @property
    def more(self) -> int:
        return self.total - len(self.lines)


def _list(
    key: str,
    title: str,
    lines: list[Line],
    more_url: str | None = None,
    total: int | None = None,
    *,
    at_least: bool = False,
) -> WorkList:
    """The first LIMIT of `lines`; `total` when the lines were read only LIMIT at a time."""
    total = len(lines) if total is None else total
    return WorkList(key, title, lines[:LIMIT], more_url, total, at_least)


def work_lists(user) -> list[WorkList]:
    found = []
    if user.has_perm("visits.change_visit"):
        found += _coordinator(user)
    if user.has_perm("accounts.sign_records"):
        found += _investigator(user)
    if user.has_perm("accounts.verify_source_data"):
        found += _monitor(user)
    if user.has_perm("accounts.review_data_quality"):
        found += _data_manager(user)
    return found


# --- Coordinators -------------------------------------------------------------------------------
def _coordinator(user) -> list[WorkList]:
    overdue, upcoming, _ = visit_selectors.due_visits(user)
    overdue_count = overdue.count()
    visits = [
        Line(
            f"{v.participant.participant_id} {v.code} · {v.label}",
            reverse("visit_detail", args=[v.participant_id, v.pk]),
            f"window closed {v.window_closes:%Y-%m-%d}",
            urgent=True,
        )
        for v in overdue[:LIMIT]
    ]
    visits += [
        Line(
            f"{v.participant.participant_id} {v.code} · {v.label}",
            reverse("visit_detail", args=[v.participant_id, v.pk]),
            f"window {v.window_opens:%Y-%m-%d} to {v.window_closes:%Y-%m-%d}",
        )
        for v in upcoming[: max(0, LIMIT - len(visits))]
    ]
    forms_due, forms_total = _forms_due(user)
    open_queries = (
        query_rules.visible_queries(user)
        .filter(state=DataQuery.State.OPEN)
        .select_related("participant")
        .order_by("opened_at", "pk")
    )
    return [
        _list(
            "visits",
            f"Visits overdue or due in the next {protocol.UPCOMING_VISIT_DAYS} days",
            visits,
            reverse("visit_calendar"),
            total=overdue_count + upcoming.count(),
        ),
        _list("forms", "Forms due or incomplete at visits held", forms_due, total=forms_total),
        _list(
            "queries",
            "Open queries to answer",
            [
                Line(
                    f"{r.query.participant.participant_id} {r.visit} {r.form}: "
                    f"{r.query.field_label}",
                    r.url,
                    f"{r.question} · {r.age_days} d",
                    urgent=r.age_days > protocol.OPEN_QUERY_DAYS,
                )
                for r in query_rules.query_rows(open_queries[:LIMIT], timezone.now())
            ],
            reverse("query_list"),
            total=open_queries.count(),
        ),
    ]


def _forms_due(user) -> tuple[list[Line], int]:
    """Per-visit forms due at visits held (a visit date entered) with no complete record: the
    first LIMIT, by visit date, participant and form, and how many in all."""
    held = Visit.objects.filter(participant__site_id__in=user.site_ids, visit_date__isnull=False)
    due, total = forms_not_entered(
        held, user, ("visit_date", "participant__participant_id"), LIMIT, complete=True
    )
    lines = [
        Line(
            f"{v.participant.participant_id} {v.code} · {f.title}",
            form_url(f, v.participant, visit=v),
            f"visit held {v.visit_date:%Y-%m-%d}",
        )
        for v, f in due
    ]
    return lines, total


# --- Investigators ------------------------------------------------------------------------------
def _investigator(user) -> list[WorkList]:
    now = timezone.now()
    unsigned = (
        AdverseEvent.objects.visible_to(user)
        .filter(signed_at__isnull=True)
        .select_related("participant", "participant__site")
        .order_by("awareness_at", "pk")
    )
    with_clock = Q(serious=True, awareness_at__isnull=False)
    to_sign, to_sign_total = _visits_to_sign(user)
    saes = []
    for ae in unsigned.filter(with_clock)[:LIMIT]:
        due = timezone.localtime(ae.clocks(susar=False)[0].due, ae.participant.site.zone)
        overdue = ae.sae_overdue(now)
        note = f"report due {due:%Y-%m-%d %H:%M %Z}" + (" · OVERDUE" if overdue else "")
        saes.append(Line(_ae_text(ae), reverse("ae_detail", args=[ae.pk]), note, urgent=True))
    others = [
        Line(
            _ae_text(ae),
            reverse("ae_detail", args=[ae.pk]),
            f"grade {ae.grade}" if ae.grade else "",
        )
        for ae in unsigned.exclude(with_clock)[:LIMIT]
    ]
    return [
        _list(
            "saes",
            "Serious adverse events: assess and sign",
            saes,
            reverse("ae_listing"),
            total=unsigned.filter(with_clock).count(),
        ),
        _list(
            "aes",
            "Adverse events to sign",
            others,
            reverse("ae_listing"),
            total=unsigned.exclude(with_clock).count(),
        ),
        _list("visits_to_sign", "Visits ready to sign", to_sign, total=to_sign_total),
    ]


def _ae_text(ae) -> str:
    return f"{ae.participant.participant_id} AE {ae.number}: {ae.verbatim_term}"


def _visits_to_sign(user) -> tuple[list[Line], int]:
    """Scheduled visits whose forms are all complete or verified, one of them at least not
    signed since (or held visits that collect no form): the dashboard's "complete" and
    "source-verified" visits, found in the database (_ready_to_sign) and shown as the dashboard
    shows them (its grid of the participants of the first LIMIT). Nothing is ready while the
    study is locked.

    The query is built and compiled once per set of forms the user may see (40 ms of Python a
    page: a subquery or three for each form), then run with the user's sites."""
    if Lock.objects.active().filter(scope=Lock.Scope.STUDY).exists():
        return [], 0
    forms = [f for f in registry.visible_forms(user, Kind.PER_VISIT) if not f.visit_record]

    def first(site_ids):
        return (
            _ready_to_sign(forms, site_ids)
            .annotate(
                participant_code=F("participant__participant_id"),
                position=Case(
                    *(When(code=code, then=Value(i)) for i, code in enumerate(dashboard.SCHEDULE)),
                    output_field=IntegerField(),
                ),
                total=Window(Count("pk")),
            )
            .order_by("participant_code", "position")
            .values_list("pk", "total")[:LIMIT]
        )

    found = compiled.rows((_visits_to_sign, *(f.name for f in forms)), first, list(user.site_ids))
    wanted = {pk for pk, _ in found}
    participants = list(
        Participant.objects.filter(visits__pk__in=wanted)
        .distinct()
        .select_related("site", *overview.participant_related(user))
    )
    rows = dashboard.grid(participants, user, today_of=lambda site: site.today())
    lines = [
        Line(f"{row.participant.participant_id} {cell.title}", cell.url, urgent=False)
        for row in rows
        for cell in row.visits
        if cell is not None and cell.visit_id in wanted
    ]
    return lines, found[0][1] if found else 0


def _ready_to_sign(forms, site_ids):
    """Visits at these sites the dashboard shows as complete or source-verified to a user who
    sees these forms: every form due has a record that is complete, verified at its version,
    signed since its last change or locked, and at least one is neither signed nor locked; a
    held visit that collects no form counts as complete until a signature covers it. Locked
    participants and visits are not listed. Only visits where something was entered since they
    were last signed are read (Visit.awaiting_signature, from its partial index)."""
    visits = (
        Visit.objects.filter(
            participant__site_id__any=site_ids,
            code__in=dashboard.SCHEDULE,
            awaiting_signature=True,
        )
        .exclude(Exists(Lock.objects.active().filter(scope=Lock.Scope.VISIT, visit=OuterRef("pk"))))
        .exclude(
            Exists(
                Lock.objects.active().filter(
                    scope=Lock.Scope.PARTICIPANT, participant=OuterRef("participant")
                )
            )
        )
        .annotate(
            last_signed=Coalesce(
                Subquery(
                    Signature.objects.filter(participant=OuterRef("participant"))
                    .filter(Q(visit=OuterRef("pk")) | Q(visit__isnull=True))
                    .order_by("-signed_at")
                    .values("signed_at")[:1]
                ),
                Value(NEVER),
            )
        )
    )
    collects_none = Q(visit_date__isnull=False, last_signed=NEVER)
    unsettled = Q(pk__in=[])
    for definition in forms:
        due = definition.due_where()
        records = definition.model.objects.filter(visit=OuterRef("pk"))
        signed = Q(modified_at__lte=OuterRef("last_signed"))
        locked = Exists(
            Lock.objects.active().filter(
                scope=Lock.Scope.RECORD,
                table_name=definition.table,
                row_pk=Cast(OuterRef("pk"), output_field=CharField()),
            )
        )
        verified = Exists(
            SourceVerification.objects.filter(
                table_name=definition.table,
                row_pk=Cast(OuterRef("pk"), output_field=CharField()),
                version=OuterRef("version"),
            )
        )
        settled = signed | Q(locked)
        done = Q(status=CrfStatus.COMPLETE) | settled | Q(verified)
        # A visit whose forms are all complete (Visit.forms_complete) needs no look at each.
        visits = visits.filter(Q(forms_complete=True) | ~due | Exists(records.filter(done)))
        unsettled |= due & Exists(records.exclude(settled))
        collects_none &= ~due
    return visits.filter(collects_none | unsettled)


# --- Monitors -----------------------------------------------------------------------------------
def _monitor(user) -> list[WorkList]:
    items, backlog_count, more_than = verification.backlog(user, LIMIT)
    backlog = [
        Line(
            " ".join(filter(None, (_whose(item), item.where, item.definition.title))),
            item.url,
            "never verified"
            if item.verified_version is None
            else f"changed since version {item.verified_version} was verified",
        )
        for item in items
    ]
    mine = (
        query_rules.visible_queries(user)
        .filter(opened_by=user, state__in=[DataQuery.State.OPEN, DataQuery.State.ANSWERED])
        .select_related("participant")
        .order_by("opened_at", "pk")
    )
    return [
        _list(
            "sdv",
            "Source data verification backlog",
            backlog,
            reverse("reverify_list"),
            total=backlog_count,
            at_least=more_than,
        ),
        _list(
            "my_queries",
            "Your queries still open",
            [
                Line(
                    f"{r.query.participant.participant_id} {r.visit} {r.form}: "
                    f"{r.query.field_label}",
                    r.url,
                    f"{r.query.get_state_display().lower()} · {r.age_days} d",
                    urgent=r.query.state == DataQuery.State.ANSWERED,
                )
                for r in query_rules.query_rows(mine[:LIMIT], timezone.now())
            ],
            reverse("query_list") + f"?state=all&raiser={user.pk}",
            total=mine.count(),
        ),
    ]


def _whose(item) -> str:
    """The participant of a record; a candidate's screening number before randomization."""
    participant = item.participant
    if participant is not None:
        return participant.participant_id
    return getattr(item.record, "screening_number", "")


# --- Data managers ------------------------------------------------------------------------------
def _data_manager(user) -> list[WorkList]:
    counted = quality.counts(user)
    url = reverse("data_quality")
    return [
        _list(
            "quality",
            "Data quality",
            [
                Line(label, f"{url}#{check}", f"{counted[check]}", urgent=counted[check] > 0)
                for check, label in quality.CHECKS.items()
            ],
            url,
        )
    ]
