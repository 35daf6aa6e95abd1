"""Data queries on CRF fields: Open → Answered → Closed, reopened when needed; nothing deleted.

Monitors and data managers raise and close queries; coordinators and investigators answer them
(changing the value itself goes through the CRF, with a reason for change). Soft checks open
queries automatically when a user confirms an unusual value.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction

from monitoring.models import DataQuery, QueryMessage
from monitoring.overview import record_url
from trialsite.audit import context as audit
from trialsite.crf import registry
from trialsite.crf.fields import checked_text

State = DataQuery.State
Kind = QueryMessage.Kind


def _field_label(crf, field: str) -> str:
    return str(crf._meta.get_field(field).verbose_name)


def raise_query(*, crf, field: str, question: str, by, automatic: bool = False) -> DataQuery:
    if not automatic and not by.has_perm("accounts.raise_query"):
        raise PermissionDenied("Your role cannot raise queries.")
    question = checked_text(question, name="question")
    if not question:
        raise ValidationError({"question": "Write the question."})
    try:
        label = _field_label(crf, field)
    except FieldDoesNotExist:
        raise ValidationError({"field": "Choose a field of this form."}) from None
    participant = registry.for_model(crf).participant_of(crf)  # a screening's is elsewhere
    if participant is None:
        raise ValidationError("This record belongs to no participant yet.")
    with transaction.atomic(), audit.acting(by=by):
        query = DataQuery.objects.create(
            participant_id=participant.pk,
            table_name=crf._meta.db_table,
            row_pk=str(crf.pk),
            field=field,
            field_label=label,
            automatic=automatic,
            opened_by=by,
        )
        QueryMessage.objects.create(query=query, kind=Kind.QUESTION, text=question.strip(), by=by)
        return query


def _move(query: DataQuery, *, allowed_from: tuple, to: str, kind: str, text: str, by):
    text = checked_text(text, name="text")
    if not text:
        raise ValidationError({"text": "Write a message."})
    with transaction.atomic(), audit.acting(by=by):
        current = DataQuery.objects.select_for_update().get(pk=query.pk)
        if current.state not in allowed_from:
            raise ValidationError(f"This query is {current.get_state_display().lower()}.")
        current.state = to
        current.save(update_fields=["state"])
        QueryMessage.objects.create(query=current, kind=kind, text=text.strip(), by=by)
        return current


def answer_query(*, query: DataQuery, text: str, by) -> DataQuery:
    if not by.has_perm("accounts.answer_query"):
        raise PermissionDenied("Your role cannot answer queries.")
    return _move(
        query, allowed_from=(State.OPEN,), to=State.ANSWERED, kind=Kind.ANSWER, text=text, by=by
    )


def close_query(*, query: DataQuery, text: str, by) -> DataQuery:
    if not by.has_perm("accounts.raise_query"):
        raise PermissionDenied("Your role cannot close queries.")
    return _move(
        query,
        allowed_from=(State.OPEN, State.ANSWERED),
        to=State.CLOSED,
        kind=Kind.CLOSE,
        text=text,
        by=by,
    )


def reopen_query(*, query: DataQuery, text: str, by) -> DataQuery:
    if not by.has_perm("accounts.raise_query"):
        raise PermissionDenied("Your role cannot reopen queries.")
    return _move(
        query,
        allowed_from=(State.ANSWERED, State.CLOSED),
        to=State.OPEN,
        kind=Kind.REOPEN,
        text=text,
        by=by,
    )


def visible_queries(user):
    """Queries on participants at the user's sites, none on an item that reveals the arm to a
    user who may not see it."""
    return DataQuery.objects.filter(participant__site_id__in=user.site_ids).exclude(
        registry.hidden_pointers(user, column="field")
    )


def queries_for(crf, user):
    """The queries on a record that `user` may see (none on items that reveal the arm to a
    user who may not see it)."""
    return (
        DataQuery.objects.filter(table_name=crf._meta.db_table, row_pk=str(crf.pk))
        .exclude(registry.hidden_pointers(user, column="field"))
        .prefetch_related("messages__by")
    )


def open_by_field(queries) -> dict[str, list[DataQuery]]:
    """The open queries of a record's items, by item (for a badge next to each)."""
    found = defaultdict(list)
    for query in queries:
        if query.state == State.OPEN:
            found[query.field].append(query)
    return dict(found)


@dataclass(frozen=True)
class QueryRow:
    """A line of the query list: where the query is and what it asks."""

    query: DataQuery
    form: str  # the title of the record's form
    visit: str  # the code of the record's visit; "" for a form of the participant
    question: str
    url: str | None  # the record's page, at the query
    age_days: int


def query_rows(queries, now: datetime) -> list[QueryRow]:
    """The list's lines for `queries` (a page of them): one query per form for their records,
    one for the questions."""
    queries = list(queries)
    by_table = defaultdict(set)
    for query in queries:
        by_table[query.table_name].add(query.row_pk)
    records = {}
    for table, pks in by_table.items():
        definition = registry.for_table(table)
        if definition is None:
            continue
        for record in definition.records().filter(pk__in=[int(pk) for pk in pks]):
            records[(table, str(record.pk))] = (definition, record)
    questions = dict(
        QueryMessage.objects.filter(query__in=queries, kind=Kind.QUESTION).values_list(
            "query_id", "text"
        )
    )
    rows = []
    for query in queries:
        definition, record = records.get((query.table_name, query.row_pk), (None, None))
        visit = ""
        if definition is not None and definition.kind == registry.Kind.PER_VISIT:
            visit = definition.follow(record, definition.visit_path).code
        url = record_url(definition, record) if record is not None else None
        rows.append(
            QueryRow(
                query=query,
                form=definition.title if definition is not None else query.table_name,
                visit=visit,
                question=questions.get(query.pk, ""),
                url=f"{url}#query-{query.pk}" if url else None,
                age_days=(now - query.opened_at).days,
            )
        )
    return rows
