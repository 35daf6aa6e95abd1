"""Reading the audit trail: who changed what, old → new, when and why."""

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.apps import apps
from django.contrib.postgres.expressions import ArraySubquery
from django.db import models
from django.db.models import (
    BigIntegerField,
    Exists,
    Func,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from trialsite.audit.models import AuditEvent
from trialsite.crf import registry

HIDDEN_FIELDS = {"id", "version", "modified_at", "modified_by_id", "created_at", "created_by_id"}


@cache
def _models_by_table() -> dict:
    return {m._meta.db_table: m for m in apps.get_models()}


def _field(table: str, column: str):
    model = _models_by_table().get(table)
    if model is not None:
        for field in model._meta.concrete_fields:
            if field.attname == column:
                return field
    return None


def field_label(table: str, column: str) -> str:
    field = _field(table, column)
    return str(field.verbose_name) if field is not None else column


def shown(table: str, column: str, value):
    """A stored value as people read it: answer labels, local date and time."""
    field = _field(table, column)
    if value is None or field is None:
        return value
    if field.choices:
        return dict(field.flatchoices).get(value, value)
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
            return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")
        except (ValueError, OverflowError):
            # A value Python cannot read (e.g. a BC date kept from before the range CHECKs):
            # shown as stored rather than failing the page.
            return value
    return value


@dataclass(frozen=True)
class Change:
    event: AuditEvent
    field: str
    label: str
    old: object
    new: object


def participant_events(participant) -> QuerySet[AuditEvent]:
    """Every audit row about a participant, their screening and consent included."""
    screening = participant.screening
    consent = getattr(screening, "consent", None)
    rows = Q(participant_id=participant.pk) | Q(
        table_name="enrollment_screening", row_pk=str(screening.pk)
    )
    if consent is not None:
        rows |= Q(table_name="enrollment_consent", row_pk=str(consent.pk))
    return AuditEvent.objects.filter(rows)


def visible_events(events: QuerySet, user) -> QuerySet[AuditEvent]:
    """The audit rows `user` may see: for a user who may not see arms, none of the tables that
    reveal the arm (registry), and none of the rows pointing at their records or items (a
    query on PRGF preparation, a lock of an injection)."""
    if user.sees_arm:
        return events
    # What a row points at, "" for rows that point at nothing (so that exclude() keeps them).
    text = models.TextField()
    pointing = events.annotate(
        points_at=Coalesce(
            KT("new_values__table_name"), KT("old_values__table_name"), Value(""), output_field=text
        ),
        points_at_field=Coalesce(
            KT("new_values__field"), KT("old_values__field"), Value(""), output_field=text
        ),
    )
    hidden = registry.hidden_pointers(user, table="points_at", column="points_at_field")
    return pointing.exclude(table_name__in=sorted(registry.arm_tables())).exclude(hidden)


# How far back the study's audit trail is read for a user's recent changes before each of their
# participants' own latest rows are read instead (recent_events).
RECENT_ROWS = 5_000


def recent_events(participants: QuerySet, user, count: int) -> list[AuditEvent]:
    """The latest `count` audit rows of `participants` the user may see. First among the
    study's latest RECENT_ROWS rows, read backwards until `count` are found: where the user's
    participants are busy, a few hundred rows. Where they are quiet, from the index on
    (participant, id): the `count` participants whose latest row is newest (one index probe per
    participant), then those participants' latest `count` rows (the latest rows of all can only
    be theirs), so that the time does not depend on how long ago the rows were written."""
    since = Subquery(AuditEvent.objects.order_by("-id").values("id")[:1]) - RECENT_ROWS
    found = list(
        visible_events(
            AuditEvent.objects.filter(id__gt=since, participant_id__in=participants.values("pk")),
            user,
        ).order_by("-id")[:count]
    )
    if len(found) == count:
        return found
    latest = visible_events(
        AuditEvent.objects.filter(participant_id=OuterRef("pk")), user
    ).order_by("-id")
    busiest = (
        participants.order_by()
        .annotate(last=Subquery(latest.values("id")[:1]))
        .filter(last__isnull=False)
        .order_by("-last")
        .values("pk")[:count]
    )
    ids = (
        participants.model.objects.filter(pk__in=busiest)
        .annotate(
            event=Func(
                ArraySubquery(latest.values("id")[:count]),
                function="unnest",
                output_field=BigIntegerField(),
            )
        )
        .order_by("-event")
        .values("event")[:count]
    )
    # The ids are few and ordered: the planner looks each one up (with a join on every id it
    # read the whole trail backwards).
    return list(AuditEvent.objects.filter(pk__in=ids).order_by("-id"))


def row_events(table: str, pk) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(table_name=table, row_pk=str(pk))


def _own_events(model, participant: str) -> QuerySet[AuditEvent]:
    """The audit rows of the outer row of `model`, whose participant is in column `participant`
    (read from the index on the participant)."""
    return AuditEvent.objects.filter(
        participant_id=OuterRef(participant),
        table_name=model._meta.db_table,
        row_pk=Cast(OuterRef("pk"), models.CharField()),
    )


def changed_since(model, since: datetime, *, participant: str = "participant_id") -> Exists:
    """Whether the outer row of `model` was written (added, changed) at `since` or later."""
    return Exists(_own_events(model, participant).filter(occurred_at__gte=since))


def last_changed(model, *, participant: str = "participant_id") -> Subquery:
    """When the outer row of `model` was last written."""
    latest = (
        _own_events(model, participant).values("participant_id").annotate(at=Max("occurred_at"))
    )
    return Subquery(latest.values("at")[:1])


def filtered(events: QuerySet, filters: dict) -> QuerySet[AuditEvent]:
    if filters.get("table"):
        events = events.filter(table_name=filters["table"])
    if filters.get("user"):
        events = events.filter(username__iexact=filters["user"].strip())
    if filters.get("since"):
        events = events.filter(occurred_at__date__gte=filters["since"])
    if filters.get("until"):
        events = events.filter(occurred_at__date__lte=filters["until"])
    if filters.get("field"):
        events = events.filter(changed_fields__contains=[filters["field"]])
    return events.order_by("-id")


def changes(events, *, field: str = "", user=None) -> list[Change]:
    """One line per changed field; bookkeeping columns (version, timestamps) left out, and
    items that reveal the arm when `user` may not see it."""
    hidden = registry.arm_columns() if user is not None and not user.sees_arm else set()
    lines = []
    for event in events:
        for name, old, new in event.changes():
            if name in HIDDEN_FIELDS or (field and name != field):
                continue
            if (event.table_name, name) in hidden:
                continue
            table = event.table_name
            lines.append(
                Change(
                    event,
                    name,
                    field_label(table, name),
                    shown(table, name, old),
                    shown(table, name, new),
                )
            )
    return lines


def changed_items(event: AuditEvent, user) -> list[str]:
    """The labels of the items a change touched that `user` may see (bookkeeping columns and
    items that reveal the arm to a blinded user left out)."""
    hidden = registry.arm_columns() if not user.sees_arm else set()
    return [
        field_label(event.table_name, name)
        for name in event.changed_fields
        if name not in HIDDEN_FIELDS and (event.table_name, name) not in hidden
    ]


def tables(events: QuerySet) -> list[tuple[str, str]]:
    names = events.order_by().values_list("table_name", flat=True).distinct()
    return sorted(((t, registry.table_label(t)) for t in names), key=lambda x: x[1])
