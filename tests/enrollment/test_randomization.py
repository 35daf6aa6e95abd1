"""Randomization lists (enrollment/randomization.py) and their import, lock and use."""

import hashlib
import re
import threading
from collections import Counter

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from enrollment import randomization, services
from enrollment.models import Participant, RandomizationList, RandomizationSlot
from enrollment.randomization import ListError, make_list, parse_list, to_csv
from tests import factories
from tests.helpers import LIST_CSV
from trialsite import protocol
from trialsite.audit.models import AuditEvent
from visits.models import Visit


def test_a_list_is_reproducible_from_its_seed_and_differs_between_seeds():
    assert make_list(seed=7, size=30) == make_list(seed=7, size=30)
    assert make_list(seed=7, size=30) != make_list(seed=8, size=30)


def test_blocks_are_balanced_and_of_the_allowed_random_sizes():
    slots = make_list(seed=3, size=200)
    sizes = Counter()
    for block in {s.block for s in slots}:
        in_block = [s for s in slots if s.block == block]
        assert len(in_block) == in_block[0].block_size
        assert Counter(s.arm for s in in_block) == Counter(
            dict.fromkeys(randomization.ARMS, in_block[0].block_size // 2)
        )
        sizes[in_block[0].block_size] += 1
    assert set(sizes) == set(protocol.RANDOMIZATION_BLOCK_SIZES)  # both sizes used


def test_a_list_is_at_least_1_2_times_the_target_and_ends_on_a_whole_block():
    assert randomization.minimum_size() == 30
    slots = make_list(seed=1, size=30)
    assert len(slots) >= 30
    assert Counter(s.arm for s in slots)["A"] == Counter(s.arm for s in slots)["B"]
    with pytest.raises(ListError, match="at least 30"):
        make_list(seed=1, size=29)


def test_a_stratified_list_has_the_size_in_every_stratum(monkeypatch):
    slots = make_list(seed=5, size=30, factors=("kl_grade",))
    by_stratum = Counter(s.stratum for s in slots)
    assert set(by_stratum) == {f"kl_grade={g}" for g in range(5)}
    assert all(n >= 30 for n in by_stratum.values())
    assert (
        randomization.stratum_for(
            {"index_knee": "B", "kl_grade_left": 2, "kl_grade_right": 3}, ("kl_grade",)
        )
        == "kl_grade=3"
    )


def test_parse_reads_back_what_to_csv_wrote():
    slots = make_list(seed=11, size=30)
    assert parse_list(to_csv(slots)) == slots


def _lines(slots) -> list[str]:
    return to_csv(slots).splitlines()


def _edited(edit) -> str:
    """The CSV text of a valid list (2-slot then 4-slot blocks) after `edit` on its lines."""
    blocks = [2, 4] * 6  # 36 slots, at least the minimum of 30
    slots, sequence = [], 0
    for block, size in enumerate(blocks, start=1):
        for arm in ("A", "B") * (size // 2):
            sequence += 1
            slots.append(randomization.Slot("", sequence, block, size, arm))
    lines = _lines(slots)
    edit(lines)
    return "\n".join(lines) + "\n"


def _set(line: int, column: int, value: str):
    """An edit: on file line `line` (1 = header), put `value` in `column` (0-based)."""

    def edit(lines):
        cells = lines[line - 1].split(",")
        cells[column] = value
        lines[line - 1] = ",".join(cells)

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda lines: None, None),  # the list as made: accepted
        (_set(1, 0, "group"), "Line 1 must be"),
        (_set(3, 4, "C"), "Line 3: arm 'C' is not one of A, B"),
        # Block sizes: those the protocol names (2, 4) pass; 6 and 3 do not.
        (
            lambda lines: [lines.__setitem__(i, lines[i].replace(",2,", ",6,")) for i in (1, 2)],
            "Line 2: block size 6 is not one the protocol names",
        ),
        (_set(2, 3, "3"), "Line 2: block size 3 is not one the protocol names"),
        # A block of the right size whose arms do not follow 1:1.
        (_set(3, 4, "A"), "Line 2: block 1 of stratum '' is not a balanced block of 2"),
        (_set(4, 4, "B"), "Line 4: block 2 of stratum '' is not a balanced block of 4"),
        # Sequence numbers: repeated, skipped.
        (_set(3, 1, "1"), "Line 3: sequence 1 of stratum '' repeats line 2"),
        (_set(3, 1, "3"), "Line 3: sequence 3 of stratum '' where 2 was expected"),
        (lambda lines: lines.pop(2), "Line 3: sequence 3 of stratum '' where 2 was expected"),
        (_set(2, 1, "x"), "Line 2: sequence, block and block_size must be whole numbers"),
        (_set(2, 0, "sex=F"), "Line 2: stratum 'sex=F' is not one of the protocol's"),
    ],
)
def test_a_list_is_checked_against_the_protocol_line_by_line(edit, message):
    text = _edited(edit)
    if message is None:
        assert len(parse_list(text)) == 36
    else:
        with pytest.raises(ListError, match=re.escape(message)):
            parse_list(text)


def test_a_list_too_short_is_refused():
    text = "\n".join(_lines(make_list(seed=11, size=30))[: randomization.minimum_size()]) + "\n"
    with pytest.raises(ListError, match="at least 30|not a balanced block"):
        parse_list(text)


@pytest.mark.parametrize("sizes", [(2, 4), (2,), (4,)])
def test_lists_are_made_only_with_the_protocols_block_sizes(sizes):
    slots = make_list(seed=5, size=30, block_sizes=sizes)
    assert {s.block_size for s in slots} == set(sizes)
    assert parse_list(to_csv(slots)) == slots


@pytest.mark.parametrize("sizes", [(6,), (2, 6), (3,), ()])
def test_other_block_sizes_are_refused_when_making_a_list(sizes):
    with pytest.raises(ListError, match="among those the protocol names"):
        make_list(seed=5, size=30, block_sizes=sizes)


def test_the_command_refuses_block_sizes_the_protocol_does_not_name(tmp_path):
    with pytest.raises(CommandError, match="among those the protocol names"):
        call_command(
            "make_randomization_list",
            "--seed",
            "1",
            "--block-sizes",
            "2,6",
            "--out",
            str(tmp_path / "l.csv"),
        )


# --- Import and lock (database) -----------------------------------------------------------------
def test_import_records_the_hash_and_every_slot(loaded_list):
    assert loaded_list.sha256 == hashlib.sha256(LIST_CSV).hexdigest()
    assert (
        loaded_list.slot_count
        == RandomizationSlot.objects.count()
        == len(parse_list(LIST_CSV.decode()))
    )
    assert AuditEvent.objects.filter(table_name="enrollment_randomizationlist").exists()


def test_a_second_import_is_refused(loaded_list):
    with pytest.raises(services.RandomizationRefused, match="already loaded"):
        services.import_randomization_list(
            content=LIST_CSV, file_name="again.csv", imported_by="dm"
        )
    assert RandomizationList.objects.count() == 1


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE enrollment_randomizationslot SET arm = 'B' WHERE arm = 'A'",
        "UPDATE enrollment_randomizationslot SET sequence = sequence + 1000",
        "DELETE FROM enrollment_randomizationslot",
        "UPDATE enrollment_randomizationlist SET sha256 = 'x'",
        "DELETE FROM enrollment_randomizationlist",
    ],
)
def test_the_database_refuses_any_edit_of_a_loaded_list(loaded_list, sql):
    with (
        pytest.raises(DatabaseError, match="locked"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)


def test_an_allocated_slot_cannot_be_reassigned(loaded_list, coordinator, lahore):
    participant = services.randomize_participant(
        screening=factories.consented_screening(site=lahore, by=coordinator), by=coordinator
    )
    other = services.randomize_participant(
        screening=factories.consented_screening(site=lahore, by=coordinator), by=coordinator
    )
    with pytest.raises(DatabaseError, match="locked"), transaction.atomic():
        RandomizationSlot.objects.filter(participant=participant).update(participant=other)


def test_the_commands_make_and_import_a_list_and_report_balance(db, tmp_path, capsys):
    out = tmp_path / "list.csv"
    call_command("make_randomization_list", "--seed", "42", "--size", "30", "--out", str(out))
    assert "Wrote" in capsys.readouterr().out
    with pytest.raises(CommandError, match="refusing to overwrite"):
        call_command("make_randomization_list", "--seed", "1", "--out", str(out))
    call_command("import_randomization_list", str(out), "--by", "statistician")
    report = capsys.readouterr().out
    assert "all participants:" in report and "difference 0" in report
    assert RandomizationList.objects.get().imported_by == "statistician"
    with pytest.raises(CommandError, match="already loaded"):
        call_command("import_randomization_list", str(out))


def test_the_make_command_refuses_a_short_list(tmp_path):
    with pytest.raises(CommandError, match="at least 30"):
        call_command(
            "make_randomization_list", "--seed", "1", "--size", "10", "--out", str(tmp_path / "x")
        )


# --- Randomizing -------------------------------------------------------------------------------
def test_randomizing_takes_the_first_free_slot_and_schedules_visits(
    loaded_list, coordinator, lahore
):
    screening = factories.consented_screening(site=lahore, by=coordinator)
    participant = services.randomize_participant(screening=screening, by=coordinator)
    first = RandomizationSlot.objects.get(sequence=1)
    assert participant.slot == first and participant.arm == first.arm
    assert participant.participant_id == "LHR-001"
    assert participant.randomized_by == coordinator
    assert [v.code for v in Visit.objects.filter(participant=participant)] == [
        v.code for v in protocol.VISIT_SCHEDULE
    ]
    event = AuditEvent.objects.get(table_name="enrollment_participant", row_pk=str(participant.pk))
    assert event.username == "coordinator"
    second = services.randomize_participant(
        screening=factories.consented_screening(site=lahore, by=coordinator), by=coordinator
    )
    assert second.slot.sequence == 2 and second.participant_id == "LHR-002"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no_consent", services.NO_CONSENT),
        ("ineligible", services.NOT_ELIGIBLE),
        ("withdrawn", services.CONSENT_WITHDRAWN),
        ("twice", services.ALREADY_RANDOMIZED),
    ],
)
def test_refusals_change_nothing(loaded_list, coordinator, lahore, setup, message):
    if setup == "no_consent":
        screening = factories.screening(site=lahore, by=coordinator)
    elif setup == "ineligible":
        screening = factories.consented_screening(site=lahore, by=coordinator, allergy=True)
    else:
        screening = factories.consented_screening(site=lahore, by=coordinator)
    if setup == "withdrawn":
        services.withdraw_consent(
            consent=screening.consent,
            withdrawn_on=timezone.localdate(),
            data_use_allowed=True,
            note="",
            by=coordinator,
        )
    if setup == "twice":
        services.randomize_participant(screening=screening, by=coordinator)
    before = (
        Participant.objects.count(),
        RandomizationSlot.objects.filter(participant__isnull=False).count(),
    )
    with pytest.raises(services.RandomizationRefused, match=message):
        services.randomize_participant(screening=screening, by=coordinator)
    after = (
        Participant.objects.count(),
        RandomizationSlot.objects.filter(participant__isnull=False).count(),
    )
    assert before == after


def test_no_list_loaded_is_refused(coordinator, lahore):
    screening = factories.consented_screening(site=lahore, by=coordinator)
    with pytest.raises(services.RandomizationRefused, match="No randomization list"):
        services.randomize_participant(screening=screening, by=coordinator)
    assert not Participant.objects.exists()


def test_an_exhausted_list_is_refused(loaded_list, coordinator, lahore):
    for _ in range(loaded_list.slot_count):
        services.randomize_participant(
            screening=factories.consented_screening(site=lahore, by=coordinator), by=coordinator
        )
    screening = factories.consented_screening(site=lahore, by=coordinator)
    with pytest.raises(services.RandomizationRefused, match="no free slot"):
        services.randomize_participant(screening=screening, by=coordinator)


@pytest.mark.parametrize("persona", ["monitor", "investigator", "data_manager"])
def test_only_roles_with_the_randomize_permission_may_randomize(
    request, loaded_list, coordinator, lahore, persona
):
    screening = factories.consented_screening(site=lahore, by=coordinator)
    with pytest.raises(PermissionDenied):
        services.randomize_participant(screening=screening, by=request.getfixturevalue(persona))
    assert not Participant.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_simultaneous_randomizations_get_distinct_slots_in_list_order(coordinator, lahore):
    services.import_randomization_list(content=LIST_CSV, file_name="list.csv", imported_by="dm")
    n = 24
    screenings = [factories.consented_screening(site=lahore, by=coordinator) for _ in range(n)]
    # Two extra requests for the same candidate: exactly one may succeed.
    targets = [*screenings, screenings[0], screenings[1]]
    barrier = threading.Barrier(len(targets))
    results, errors = [], []

    def worker(screening):
        try:
            barrier.wait(timeout=30)
            results.append(services.randomize_participant(screening=screening, by=coordinator))
        except services.RandomizationRefused as refusal:
            errors.append(str(refusal))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(s,)) for s in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == [services.ALREADY_RANDOMIZED] * 2
    used = list(RandomizationSlot.objects.filter(participant__isnull=False).order_by("sequence"))
    assert [s.sequence for s in used] == list(range(1, n + 1))  # the first n, no gaps
    assert len({s.participant_id for s in used}) == n
    ids = sorted(Participant.objects.values_list("participant_id", flat=True))
    assert ids == [f"LHR-{i:03d}" for i in range(1, n + 1)]
    # Participant numbers follow list order.
    for slot in used:
        assert slot.participant.participant_id == f"LHR-{slot.sequence:03d}"
