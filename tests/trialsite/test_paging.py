"""Keyset pagination (trialsite/paging.py): every row once, in order, across ties, forwards and
back; the other parameters kept; a cursor that does not parse shows the first page; each page
costs one query whatever page it is; the list pages use it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Screening
from tests import factories
from trialsite.paging import first_and_count, keyset_page

pytestmark = pytest.mark.django_db

ORDER = ("-screening_date", "-screening_number")


@pytest.fixture
def screenings(lahore, coordinator):
    today = timezone.localdate()
    for n in range(23):  # three dates, so many rows tie on the first key
        factories.screening(site=lahore, by=coordinator, screening_date=today - timedelta(n % 3))
    return list(Screening.objects.order_by(*ORDER, "pk"))


def page_at(query: str, size: int = 5):
    request = RequestFactory().get(f"/screening/?{query}")
    return keyset_page(request, Screening.objects.all(), ORDER, size=size)


def test_the_pages_hold_every_row_once_in_order_forwards_and_back(screenings):
    seen, pages, page = [], [], page_at("site=1")
    while True:
        pages.append(page)
        seen += page.rows
        if page.next_query is None:
            break
        assert "site=1" in page.next_query  # the other parameters are kept
        page = page_at(page.next_query)
    assert seen == screenings and [len(p.rows) for p in pages] == [5, 5, 5, 5, 3]
    assert pages[0].previous_query is None and pages[0].first_query is None
    # Back from the last page, page by page, to the first.
    back = pages[-1]
    for expected in reversed(pages[:-1]):
        back = page_at(back.previous_query)
        assert back.rows == expected.rows
    assert back.previous_query is None and back.first_query is not None
    assert page_at(pages[3].first_query).rows == pages[0].rows


@pytest.mark.parametrize("cursor", ["a", "x123", "anotbase64!", "aWzEiXQ", "bWyJhIiwgImIiXQ"])
def test_a_cursor_that_does_not_parse_shows_the_first_page(screenings, cursor):
    assert page_at(f"page={cursor}").rows == screenings[:5]


def test_a_page_far_down_costs_one_query_as_the_first_does(screenings):
    page = page_at("", size=2)
    for _ in range(8):
        page = page_at(page.next_query, size=2)
    with CaptureQueriesContext(connection) as queries:
        far = page_at(page.next_query, size=2)
    assert len(queries) == 1 and "OFFSET" not in queries[0]["sql"]
    assert far.rows == screenings[18:20]


@pytest.mark.parametrize(
    ("name", "who"),
    [
        ("screening_log", "coordinator"),
        ("participant_list", "coordinator"),
        ("ae_listing", "investigator"),
        ("review_queue", "investigator"),
        ("query_list", "monitor"),
        ("dashboard", "monitor"),
        ("deviation_listing", "data_manager"),
    ],
)
def test_the_list_pages_are_paginated_by_key(client, request, name, who, arm_a):
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse(name), {"page": "not a cursor"})
    assert response.status_code == 200
    assert hasattr(response.context["page"], "next_query")


def test_the_first_rows_of_a_union_and_their_count_come_in_one_query(screenings):
    eligible = Screening.objects.filter(eligible=True).values_list("screening_number", "pk")
    other = Screening.objects.filter(eligible=False).values_list("screening_number", "pk")
    every = sorted(Screening.objects.values_list("screening_number", "pk"))
    with CaptureQueriesContext(connection) as queries:
        first, total = first_and_count(eligible.union(other, all=True), ("screening_number",), 3)
    assert len(queries) == 1
    assert first == every[:3] and total == len(every) > 3
    assert first_and_count(Screening.objects.none().values_list("pk"), ("pk",), 3) == ([], 0)
