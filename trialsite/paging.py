"""Keyset pagination: a page of a list is the rows after (or before) the last row shown, by the
list's order, so page 400 costs what page 1 costs (no OFFSET). Lists that can grow with the
study use it; includes/keyset_pagination.html shows the links.

A cursor is the ordering values of the row at the page's edge, in the query string; a cursor
that does not parse (edited by hand, or from an older order) shows the first page.
"""

import base64
import binascii
import json
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, ValidationError
from django.db import connection
from django.db.models import Q, QuerySet

PAGE_SIZE = 25  # rows a list page shows, as the dashboard's participants


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    next_query: str | None  # the query string of the next page, or None on the last
    previous_query: str | None
    first_query: str | None  # None on the first page

    @property
    def has_other_pages(self) -> bool:
        return bool(self.next_query or self.previous_query)


def keyset_page(
    request,
    queryset: QuerySet,
    order: tuple[str, ...],
    *,
    size: int = PAGE_SIZE,
    param: str = "page",
) -> KeysetPage:
    """The page of `queryset`, in `order` (field paths or annotations, "-" for descending, of
    values that are never null; the primary key is added last to make the order total), that
    the request's `param` asks for."""
    if "pk" not in {name.lstrip("-") for name in order}:
        order = (*order, "pk")
    keys = [(name.lstrip("-"), name.startswith("-")) for name in order]
    backward, values = _decode(request.GET.get(param, ""), queryset, keys)
    query = queryset.order_by(*order)
    if values is not None:
        query = query.filter(_beyond(keys, values, backward))
    if backward:
        query = query.reverse()
    rows = list(query[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backward:
        rows.reverse()
    has_next = more if not backward else True
    has_previous = values is not None and (more if backward else True)

    def link(cursor: str | None) -> str:
        params = request.GET.copy()
        params.pop(param, None)
        if cursor:
            params[param] = cursor
        return params.urlencode()

    return KeysetPage(
        rows,
        link(_encode("a", rows[-1], keys)) if has_next and rows else None,
        link(_encode("b", rows[0], keys)) if has_previous and rows else None,
        link(None) if values is not None else None,
    )


def _value(row, path: str):
    for attribute in path.split("__"):
        row = getattr(row, attribute)
    return row


def _field(queryset: QuerySet, path: str):
    if path in queryset.query.annotations:
        return queryset.query.annotations[path].output_field
    model = queryset.model
    *relations, name = path.split("__")
    for relation in relations:
        model = model._meta.get_field(relation).related_model
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


def _encode(direction: str, row, keys) -> str:
    values = [str(_value(row, path)) for path, _ in keys]
    packed = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    return f"{direction}{packed}"


def _decode(cursor: str, queryset: QuerySet, keys) -> tuple[bool, list | None]:
    """(backward, the ordering values), or (False, None) for the first page."""
    if len(cursor) < 2 or cursor[0] not in "ab":
        return False, None
    try:
        packed = cursor[1:]
        texts = json.loads(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
        if not isinstance(texts, list) or len(texts) != len(keys):
            return False, None
        values = [
            _field(queryset, path).to_python(text)
            for (path, _), text in zip(keys, texts, strict=True)
        ]
    except (ValueError, TypeError, binascii.Error, ValidationError, FieldDoesNotExist):
        return False, None
    return cursor[0] == "b", values


def _beyond(keys, values, backward: bool) -> Q:
    """Rows after `values` in the order (before them if `backward`): the first key beyond,
    or equal on it and beyond on the next, and so on."""
    condition, equal = Q(), Q()
    for (path, descending), value in zip(keys, values, strict=True):
        lookup = "lt" if descending != backward else "gt"
        condition |= equal & Q(**{f"{path}__{lookup}": value})
        equal &= Q(**{path: value})
    return condition


def first_and_count(rows: QuerySet, order: tuple[str, ...], limit: int) -> tuple[list, int]:
    """The first `limit` rows (None: all) of a values_list query (a union too) by `order` (its
    column names), and how many rows it has in all: in one query, which reads the rows once."""
    if limit == 0:
        return [], rows.count()
    try:
        sql, params = rows.order_by().query.sql_with_params()
    except EmptyResultSet:  # a query known to find nothing (none())
        return [], 0
    ordering = ", ".join(connection.ops.quote_name(column) for column in order)
    # The inner SQL is Django's, with its parameters apart; the columns are quoted names.
    query = f"SELECT *, COUNT(*) OVER () FROM ({sql}) AS found ORDER BY {ordering} LIMIT %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(query, [*params, limit])
        found = cursor.fetchall()
    return [row[:-1] for row in found], found[0][-1] if found else 0
