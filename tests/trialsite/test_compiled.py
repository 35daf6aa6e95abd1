"""Queries compiled once per process (trialsite/compiled.py) read what Django's queryset reads,
for any values they are given."""

import pytest
from django.db.models import Count, Exists, OuterRef

from tests import factories
from trialsite import compiled
from trialsite.outbox.models import OutboxMessage
from visits.models import Visit


@pytest.fixture
def participant_ids(lahore, coordinator) -> list[int]:
    return [
        factories.participant_with_visits(site=lahore, by=coordinator).pk,
        factories.participant_with_visits(site=lahore, by=coordinator, arm="B").pk,
        factories.ParticipantFactory(site=lahore).pk,  # no visits
    ]


def _values(ids):
    return [ids, ids[:1], ids[1:], [], [*ids, 99_999_999], ids[::-1]]


def test_the_any_lookup_finds_what_in_finds(participant_ids):
    for ids in _values(participant_ids):
        assert list(
            Visit.objects.filter(participant_id__any=ids).order_by("pk").values_list("pk")
        ) == list(Visit.objects.filter(participant_id__in=ids).order_by("pk").values_list("pk"))


def test_a_query_is_built_once_and_reads_the_rows_of_each_calls_values(participant_ids):
    built = []

    def visits(ids, codes):
        built.append((ids, codes))
        return (
            Visit.objects.filter(participant_id__any=ids, code__any=codes)
            .order_by("pk")
            .values_list("pk", "participant_id", "code", "target_date", "visit_date")
        )

    found_any = False
    for ids in _values(participant_ids):
        for codes in (["M0", "M1"], ["M6"], []):
            expected = list(
                Visit.objects.filter(participant_id__in=ids, code__in=codes)
                .order_by("pk")
                .values_list("pk", "participant_id", "code", "target_date", "visit_date")
            )
            assert compiled.rows((visits,), visits, ids, codes) == expected
            found_any = found_any or bool(expected)
    assert found_any
    assert len(built) == 1
    assert all(isinstance(value, compiled.Slot) for value in built[0])


def test_values_are_converted_as_django_converts_them(participant_ids):
    OutboxMessage.objects.create(task="a", args=[1, "two"], kwargs={"x": {"y": None}})
    OutboxMessage.objects.create(task="b", args=[], kwargs={})

    def messages(tasks):
        return (
            OutboxMessage.objects.filter(task__any=tasks)
            .order_by("task")
            .values_list("task", "args", "kwargs")
        )

    assert compiled.rows((messages,), messages, ["a", "b"]) == [
        ("a", [1, "two"], {"x": {"y": None}}),
        ("b", [], {}),
    ]

    def counts(ids):
        return (
            Visit.objects.filter(participant_id__any=ids)
            .order_by("participant_id")
            .values("participant_id")
            .annotate(n=Count("pk"))
            .values_list("participant_id", "n")
        )

    rows = compiled.rows((counts,), counts, participant_ids)
    assert rows == list(
        Visit.objects.filter(participant_id__in=participant_ids)
        .order_by("participant_id")
        .values("participant_id")
        .annotate(n=Count("pk"))
        .values_list("participant_id", "n")
    )
    assert len(rows) == 2


def test_objects_are_the_models_the_queryset_gives(participant_ids):
    def visits(ids):
        return Visit.objects.filter(participant_id__any=ids).order_by("pk")

    names = [field.attname for field in Visit._meta.concrete_fields]
    for ids in _values(participant_ids):
        found = compiled.objects((visits,), visits, ids)
        expected = list(Visit.objects.filter(participant_id__in=ids).order_by("pk"))
        assert [[getattr(v, n) for n in names] for v in found] == [
            [getattr(v, n) for n in names] for v in expected
        ]
        assert all(type(v) is Visit and not v._state.adding for v in found)
        assert all(v._state.db == "default" for v in found)


def test_an_update_is_built_once_and_changes_the_rows_each_call_names(participant_ids):
    built = []

    def flag(ids):
        built.append(ids)
        return Visit.objects.filter(participant_id__any=ids, code="M1"), {
            "missed_reason": "flagged",
            "forms_complete": Exists(Visit.objects.filter(pk=OuterRef("pk"), code="M1")),
        }

    first, second, _ = participant_ids
    others = list(Visit.objects.exclude(code="M1").order_by("pk").values_list())
    assert compiled.update((flag,), flag, []) == 0
    assert compiled.update((flag,), flag, [first]) == 1
    assert Visit.objects.filter(missed_reason="flagged").get().participant_id == first
    assert compiled.update((flag,), flag, [second, 99_999_999]) == 1
    assert len(built) == 1
    changed = Visit.objects.filter(code="M1").order_by("participant_id")
    assert [(v.participant_id, v.missed_reason, v.forms_complete) for v in changed] == [
        (first, "flagged", True),
        (second, "flagged", True),
    ]
    assert list(Visit.objects.exclude(code="M1").order_by("pk").values_list()) == others
