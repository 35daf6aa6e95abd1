"""The home page's work lists: each role sees what it has to do next, every line linking to
where it is done; nothing of another site."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Participant
from monitoring import (
    dashboard,
    overview,
    quality,
    queries,
    signatures,
    verification,
    worklists,
)
from safety import services as safety_services
from tests import factories, helpers
from tests.helpers import add_vas, change_vas, form_url
from trialsite import protocol
from trialsite.audit.models import AuditEvent
from trialsite.crf import locking, registry
from trialsite.crf.models import Lock
from visits import services as visit_services
from visits.models import Visit

pytestmark = pytest.mark.django_db


def lists_of(client, user) -> dict:
    client.force_login(user)
    return {w.key: w for w in client.get(reverse("home")).context["work_lists"]}


def texts(work_list) -> list[str]:
    return [line.text for line in work_list.lines]


def test_a_coordinator_sees_visits_due_forms_due_and_queries_to_answer(
    client, coordinator, monitor, lahore, islamabad, outsider
):
    late = factories.participant_with_visits(
        site=lahore, by=coordinator, randomized_at=timezone.now() - timedelta(days=45)
    )
    today = factories.participant_with_visits(site=lahore, by=coordinator)
    factories.participant_with_visits(
        site=islamabad, by=outsider, randomized_at=timezone.now() - timedelta(days=45)
    )
    m0 = Visit.objects.get(participant=today, code="M0")
    visit_services.record_visit(visit=m0, visit_date=lahore.today(), by=coordinator)
    vas = add_vas(today, "M0", 40, coordinator)
    query = queries.raise_query(crf=vas, field="score_mm", question="Ruler?", by=monitor)

    lists = lists_of(client, coordinator)
    assert set(lists) == {"visits", "forms", "queries"}  # a coordinator's lists only
    visits = lists["visits"]
    late_w1 = Visit.objects.get(participant=late, code="W1")
    overdue = next(
        line for line in visits.lines if line.text.startswith(f"{late.participant_id} W1")
    )
    assert overdue.urgent and overdue.url == reverse("visit_detail", args=[late.pk, late_w1.pk])
    assert f"window closed {late_w1.window_closes:%Y-%m-%d}" == overdue.note
    upcoming = [t for t in texts(visits) if t.startswith(f"{today.participant_id} W1")]
    assert upcoming  # opens within protocol.UPCOMING_VISIT_DAYS
    assert all(not t.startswith("ISB") for t in texts(visits))  # not another site's
    forms = texts(lists["forms"])
    assert f"{today.participant_id} M0 · WOMAC" in forms
    assert f"{today.participant_id} M0 · Injection procedure" in forms
    assert f"{today.participant_id} M0 · VAS pain" not in forms  # complete
    (line,) = lists["queries"].lines
    assert line.url == form_url("vas_pain", visit=m0) + f"#query-{query.pk}"
    assert "Ruler?" in line.note


def test_an_investigator_sees_saes_with_their_due_time_aes_and_visits_to_sign(
    client, coordinator, investigator, arm_a
):
    now = timezone.now()
    serious = safety_services.report_adverse_event(
        participant=arm_a,
        data=helpers.ae_answers(
            verbatim_term="Septic arthritis",
            serious=True,
            hospitalisation=True,
            grade=3,
            awareness_at=now - timedelta(hours=2),
        ),
        by=coordinator,
    )
    mild = safety_services.report_adverse_event(
        participant=arm_a, data=helpers.ae_answers(verbatim_term="Mild pain"), by=coordinator
    )
    m1 = Visit.objects.get(participant=arm_a, code="M1")
    add_vas(arm_a, "M1", 30, coordinator)
    helpers.add_womac(arm_a, "M1", 1, coordinator)
    helpers.add_rescue_analgesia(arm_a, "M1", 0, coordinator)

    lists = lists_of(client, investigator)
    assert set(lists) == {"saes", "aes", "visits_to_sign"}
    (sae,) = lists["saes"].lines
    due = (serious.awareness_at + protocol.SAE_REPORT_WITHIN).astimezone(arm_a.site.zone)
    assert sae.url == reverse("ae_detail", args=[serious.pk])
    assert sae.note == f"report due {due:%Y-%m-%d %H:%M %Z}" and sae.urgent
    assert texts(lists["aes"]) == [f"{arm_a.participant_id} AE {mild.number}: Mild pain"]
    (visit,) = lists["visits_to_sign"].lines
    assert visit.url == reverse("visit_detail", args=[arm_a.pk, m1.pk])
    assert visit.text == f"{arm_a.participant_id} M1: Complete (3 of 3 forms complete)"

    signatures.sign(participant=arm_a, visit=m1, password=factories.PASSWORD, by=investigator)
    assert lists_of(client, investigator)["visits_to_sign"].lines == []


def test_a_monitor_sees_the_verification_backlog_and_their_open_queries(
    client, coordinator, monitor, data_manager, vas
):
    def vas_lines():
        backlog = lists_of(client, monitor)["sdv"]
        return [line for line in backlog.lines if line.text.endswith("VAS pain")]

    lists = lists_of(client, monitor)
    assert set(lists) == {"sdv", "my_queries"}
    assert f"{vas.participant.participant_id} Screening" in texts(lists["sdv"])  # never verified
    (line,) = vas_lines()
    assert line.text == f"{vas.participant.participant_id} M1 VAS pain"
    assert line.note == "never verified" and line.url == form_url("vas_pain", visit=vas.visit)
    verification.verify_crf(crf=vas, by=monitor)
    assert vas_lines() == []
    change_vas(vas, coordinator)
    (line,) = vas_lines()
    assert line.note == "changed since version 1 was verified"

    mine = queries.raise_query(crf=vas, field="score_mm", question="Ruler?", by=monitor)
    queries.raise_query(crf=vas, field="knee", question="Which knee?", by=data_manager)
    (line,) = lists_of(client, monitor)["my_queries"].lines
    assert line.url.endswith(f"#query-{mine.pk}") and not line.urgent
    queries.answer_query(query=mine, text="44 mm", by=coordinator)
    (line,) = lists_of(client, monitor)["my_queries"].lines
    assert line.urgent and line.note.startswith("answered")  # the monitor's turn
    queries.close_query(query=mine, text="ok", by=monitor)
    assert lists_of(client, monitor)["my_queries"].lines == []


def test_a_data_manager_sees_the_data_quality_report_check_by_check(
    client, data_manager, coordinator, lahore
):
    factories.participant_with_visits(
        site=lahore, by=coordinator, randomized_at=timezone.now() - timedelta(days=45)
    )
    lists = lists_of(client, data_manager)
    assert set(lists) == {"quality"}
    lines = {line.text: line for line in lists["quality"].lines}
    counted = quality.counts(data_manager)
    assert [line.note for line in lists["quality"].lines] == [str(n) for n in counted.values()]
    missing = lines["Forms missing after their window closed"]
    assert int(missing.note) > 0 and missing.urgent
    assert missing.url == reverse("data_quality") + "#missing"


def test_the_backlog_is_counted_up_to_a_limit_and_listed_from_the_first_forms_only(
    client, monitor, study, monkeypatch
):
    """The backlog's lines are its first records, form by form, read until there are enough;
    its total is counted up to BACKLOG_COUNTED and shown as "at least" beyond."""
    everything, total, more = verification.backlog(monitor, 1000)
    assert not more and total == len(everything) > 4
    for limit in (1, 3, len(everything)):
        first, counted, more = verification.backlog(monitor, limit)
        assert [(i.definition, i.record) for i in first] == [
            (i.definition, i.record) for i in everything[:limit]
        ]
        assert (counted, more) == (total, False)

    monkeypatch.setattr(verification, "BACKLOG_COUNTED", 3)
    assert verification.backlog(monitor, 2)[1:] == (3, True)
    monkeypatch.setattr(verification, "BACKLOG_COUNTED", total)
    assert verification.backlog(monitor, 2)[1:] == (total, False)
    monkeypatch.setattr(verification, "BACKLOG_COUNTED", total - 1)
    assert verification.backlog(monitor, 2)[1:] == (total - 1, True)

    # On the home page, which lists the first LIMIT.
    assert total > worklists.LIMIT + 1
    monkeypatch.setattr(verification, "BACKLOG_COUNTED", total - 1)
    client.force_login(monitor)
    page = client.get(reverse("home")).content.decode()
    sdv = page[page.index('data-testid="work-sdv"') :]
    sdv = sdv[: sdv.index("</section>")]
    assert f'<span class="badge text-bg-primary">{total - 1}+</span>' in sdv
    assert f"{total - 1 - worklists.LIMIT}+ more…" in sdv


def test_a_candidate_not_randomized_is_named_by_screening_number(client, monitor, study):
    backlog = texts(lists_of(client, monitor)["sdv"])
    assert f"{study['failed'].screening_number} Screening" in backlog


def test_the_visits_to_sign_are_the_dashboards_complete_and_verified_visits(
    client, coordinator, investigator, monitor, data_manager, study
):
    """Found in the database, the list agrees with the dashboard's statuses as records are
    verified, signed, changed after the signature and locked, in both arms (PRGF preparation
    is due in arm B only)."""
    arm_a, arm_b = study["A"], study["B"]

    def dashboard_ready() -> list[str]:
        participants = list(Participant.objects.visible_to(investigator).order_by("participant_id"))
        return [
            f"{row.participant.participant_id} {cell.title}"
            for row in dashboard.grid(participants, investigator)
            for cell in row.visits
            if cell is not None and cell.status in (overview.COMPLETE, overview.VERIFIED)
        ]

    def listed() -> list[str]:
        to_sign = lists_of(client, investigator)["visits_to_sign"]
        assert to_sign.total == len(to_sign.lines)
        return texts(to_sign)

    first = listed()
    assert first == dashboard_ready()
    assert f"{arm_a.participant_id} M0: Complete (6 of 6 forms complete)" in first
    assert f"{arm_b.participant_id} M0: Complete (7 of 7 forms complete)" in first  # PRGF too
    assert f"{arm_b.participant_id} M1: Complete (3 of 3 forms complete)" in first

    b_m1 = helpers.visit(arm_b, "M1")
    for name in ("vas_pain", "womac", "rescue_analgesia"):
        record = registry.get(name).model.objects.get(visit=b_m1)
        verification.verify_crf(crf=record, by=monitor)
    a_m1 = helpers.visit(arm_a, "M1")
    signatures.sign(participant=arm_a, visit=a_m1, password=factories.PASSWORD, by=investigator)
    locking.lock(
        scope=Lock.Scope.VISIT, reason="Reviewed", by=data_manager, visit=helpers.visit(arm_b, "M0")
    )
    second = listed()
    assert second == dashboard_ready()
    assert f"{arm_b.participant_id} M1: Source-verified (3 of 3 forms complete)" in second
    assert not any(t.startswith(f"{arm_a.participant_id} M1") for t in second)  # signed
    assert not any(t.startswith(f"{arm_b.participant_id} M0") for t in second)  # locked

    change_vas(
        registry.get("vas_pain").model.objects.get(visit=a_m1), coordinator
    )  # changed after the signature
    third = listed()
    assert third == dashboard_ready()
    assert f"{arm_a.participant_id} M1: Complete (3 of 3 forms complete)" in third

    locking.lock(scope=Lock.Scope.STUDY, reason="Database lock", by=data_manager)
    assert listed() == dashboard_ready() == []


def test_a_visit_awaits_a_signature_from_what_is_entered_until_a_signature_covers_it(
    client, coordinator, investigator, arm_a
):
    """Visit.awaiting_signature, which the list reads its candidates from: set by a form saved
    or the visit held, cleared by the visit's or the casebook's signature, and kept out of the
    audit trail. A held visit that collects no form (a safety call) is ready to sign until a
    signature covers it, and then shows as signed, in the list and on the dashboard alike."""
    m1, w1 = helpers.visit(arm_a, "M1"), helpers.visit(arm_a, "W1")

    def awaiting() -> tuple[bool, bool]:
        return tuple(Visit.objects.get(pk=v.pk).awaiting_signature for v in (m1, w1))

    def cells() -> dict[str, str]:
        (row,) = dashboard.grid([arm_a], investigator)
        return {cell.title.split(":")[0]: cell.title for cell in row.visits if cell}

    assert awaiting() == (False, False)  # nothing entered yet
    trail = AuditEvent.objects.filter(table_name="visits_visit").count()
    add_vas(arm_a, "M1", 30, coordinator)
    helpers.add_womac(arm_a, "M1", 1, coordinator)
    helpers.add_rescue_analgesia(arm_a, "M1", 0, coordinator)
    assert awaiting() == (True, False)
    assert AuditEvent.objects.filter(table_name="visits_visit").count() == trail  # derived
    signatures.sign(participant=arm_a, visit=m1, password=factories.PASSWORD, by=investigator)
    assert awaiting() == (False, False)

    visit_services.record_visit(visit=w1, visit_date=arm_a.site.today(), by=coordinator)
    assert awaiting() == (False, True)
    assert texts(lists_of(client, investigator)["visits_to_sign"]) == [
        f"{arm_a.participant_id} W1: Complete (no forms)"
    ]
    signatures.sign(participant=arm_a, password=factories.PASSWORD, by=investigator)  # casebook
    assert awaiting() == (False, False)
    assert lists_of(client, investigator)["visits_to_sign"].lines == []
    assert cells()["W1"] == "W1: Signed (no forms)"

    change_vas(registry.get("vas_pain").model.objects.get(visit=m1), coordinator)
    assert awaiting() == (True, False)
    assert texts(lists_of(client, investigator)["visits_to_sign"]) == [
        f"{arm_a.participant_id} M1: Complete (3 of 3 forms complete)"
    ]
    assert cells()["M1"] == "M1: Complete (3 of 3 forms complete)"


def test_forms_due_are_those_not_complete_at_visits_held_oldest_first_in_the_arms_collecting_them(
    client, coordinator, lahore, arm_a, arm_b
):
    for participant, days_ago in ((arm_a, 3), (arm_b, 1)):
        visit_services.record_visit(
            visit=helpers.visit(participant, "M0"),
            visit_date=lahore.today() - timedelta(days=days_ago),
            by=coordinator,
        )
    add_vas(arm_b, "M0", 40, coordinator)
    held = Visit.objects.filter(visit_date__isnull=False).select_related("participant")
    held = sorted(held, key=lambda v: (v.visit_date, v.participant.participant_id))
    forms = [
        f
        for f in registry.visible_forms(coordinator, registry.Kind.PER_VISIT)
        if not f.visit_record and f.entered_here
    ]
    expected = [
        f"{v.participant.participant_id} {v.code} · {f.title}"
        for v in held
        for f in forms
        if f.due_at(v) and not f.model.objects.filter(visit=v, status="complete").exists()
    ]
    assert f"{arm_b.participant_id} M0 · PRGF preparation" in expected  # arm B only
    assert f"{arm_a.participant_id} M0 · PRGF preparation" not in expected
    assert f"{arm_b.participant_id} M0 · VAS pain" not in expected  # complete

    forms = lists_of(client, coordinator)["forms"]
    assert texts(forms) == expected[:10] and forms.total == len(expected) > 10
