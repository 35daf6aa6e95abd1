"""Investigational product: injection and PRGF rules per arm, lot release, the stock ledger."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from monitoring.demo import RELEASE_TESTS, prgf_answers
from tests import factories
from tests.helpers import at_site, form_url, inject, injection_data, log_in, screenshot, visit
from trialsite import protocol, roles
from trialsite.accounts.models import User
from visits import dosing, services
from visits.models import (
    Deviation,
    Injection,
    LotTransaction,
    PrgfPreparation,
    SecretomeLot,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def lot(coordinator, investigator):
    return factories.released_lot(by=coordinator, releaser=investigator)


def prgf_data(participant, day, coordinator, investigator, **overrides):
    drawn = at_site(participant, day, hour=9)
    return {**prgf_answers(drawn=drawn, operator=coordinator, checker=investigator), **overrides}


def prepare_prgf(participant, day, coordinator, investigator, **overrides):
    return services.record_prgf_preparation(
        visit=visit(participant, "M0"),
        data=prgf_data(participant, day, coordinator, investigator, **overrides),
        version=0,
        complete=True,
        by=coordinator,
    )


# --- Pure rules ---------------------------------------------------------------------------------
def test_arm_a_gets_no_prgf_and_arm_b_needs_it():
    ok = {"secretome_ml": Decimal("2.0"), "deviation_reason": ""}
    assert dosing.check_injection("A", prgf_ml=None, has_prgf_preparation=False, **ok) == {}
    assert "prgf_volume_ml" in dosing.check_injection(
        "A", prgf_ml=Decimal("1.0"), has_prgf_preparation=False, **ok
    )
    errors = dosing.check_injection("B", prgf_ml=None, has_prgf_preparation=False, **ok)
    assert set(errors) == {"prgf_volume_ml", "prgf_preparation"}
    assert (
        dosing.check_injection("B", prgf_ml=Decimal("1.0"), has_prgf_preparation=True, **ok) == {}
    )


@pytest.mark.parametrize(
    ("arm", "secretome", "prgf", "differs"),
    [
        ("A", "2.0", None, False),
        ("A", "1.9", None, True),
        ("B", "2.0", "1.0", False),
        ("B", "2.0", "0.8", True),
        ("B", "2.5", "1.0", True),
    ],
)
def test_a_dose_other_than_the_protocols_needs_a_reason(arm, secretome, prgf, differs):
    args = {
        "secretome_ml": Decimal(secretome),
        "prgf_ml": Decimal(prgf) if prgf else None,
        "has_prgf_preparation": arm == "B",
    }
    errors = dosing.check_injection(arm, deviation_reason="", **args)
    assert ("deviation_reason" in errors) is differs
    assert dosing.check_injection(arm, deviation_reason="syringe dead space", **args) == {}


def test_protocol_doses():
    assert dosing.total_volume(protocol.ARM_B.secretome_ml, protocol.ARM_B.prgf_ml) == Decimal(
        "3.0"
    )
    assert protocol.ARM_A.total_ml == Decimal("2.0")
    assert dosing.platelet_fold(200, 500) == Decimal("2.50")


# --- Injection CRF -------------------------------------------------------------------------------
def test_arm_a_injection_dispenses_stock_and_completes_m0(arm_a, lot, coordinator):
    day = timezone.localdate()
    injection = inject(arm_a, lot, day, coordinator)
    assert injection.total_volume_ml == Decimal("2.0")
    lot.refresh_from_db()
    assert lot.balance_ml == Decimal("18.0")
    line = LotTransaction.objects.filter(lot=lot).last()
    assert (line.kind, line.change_ml, line.participant) == ("dispensed", Decimal("-2.0"), arm_a)
    assert visit(arm_a, "M0").visit_date == day


def test_arm_a_cannot_record_prgf(arm_a, lot, coordinator, investigator):
    with pytest.raises(ValidationError, match="no PRGF"):
        prepare_prgf(arm_a, timezone.localdate(), coordinator, investigator)
    with pytest.raises(ValidationError) as error:
        inject(arm_a, lot, timezone.localdate(), coordinator, prgf_volume_ml=Decimal("1.0"))
    assert "prgf_volume_ml" in error.value.message_dict
    assert not Injection.objects.exists() and not PrgfPreparation.objects.exists()


def test_arm_b_injection_needs_the_prgf_preparation_first(arm_b, lot, coordinator, investigator):
    day = timezone.localdate()
    with pytest.raises(ValidationError) as error:
        inject(arm_b, lot, day, coordinator, prgf_volume_ml=Decimal("1.0"))
    assert "prgf_preparation" in error.value.message_dict
    prepare_prgf(arm_b, day, coordinator, investigator)
    injection = inject(arm_b, lot, day, coordinator, prgf_volume_ml=Decimal("1.0"))
    assert injection.prgf_preparation.platelet_fold == Decimal("2.50")
    assert injection.total_volume_ml == Decimal("3.0")
    assert injection.minutes_draw_to_injection == 60
    assert not Deviation.objects.exists()


def test_prgf_over_the_time_limit_is_a_deviation(arm_b, lot, coordinator, investigator):
    day = timezone.localdate()
    prepare_prgf(arm_b, day, coordinator, investigator)  # drawn at 09:00
    late = at_site(arm_b, day, hour=9) + timedelta(
        minutes=protocol.PRGF_MAX_MINUTES_DRAW_TO_INJECTION + 1
    )
    inject(arm_b, lot, day, coordinator, prgf_volume_ml=Decimal("1.0"), injected_at=late)
    deviation = Deviation.objects.get(detected_from__startswith="prgf_time")
    assert f"{protocol.PRGF_MAX_MINUTES_DRAW_TO_INJECTION + 1} minutes" in deviation.description


def test_prgf_steps_out_of_order_or_one_person_checking_are_refused(
    arm_b, coordinator, investigator
):
    day = timezone.localdate()
    drawn = at_site(arm_b, day, hour=9)
    with pytest.raises(ValidationError) as error:
        prepare_prgf(
            arm_b,
            day,
            coordinator,
            investigator,
            activated_at=drawn - timedelta(minutes=1),
            identity_checked_by=coordinator,
        )
    assert set(error.value.message_dict) == {"activated_at", "identity_checked_by"}


def test_a_dose_volume_difference_is_refused_without_a_reason_and_recorded_with_one(
    arm_a, lot, coordinator
):
    day = timezone.localdate()
    with pytest.raises(ValidationError) as error:
        inject(arm_a, lot, day, coordinator, secretome_volume_ml=Decimal("1.5"))
    assert "deviation_reason" in error.value.message_dict
    inject(
        arm_a,
        lot,
        day,
        coordinator,
        secretome_volume_ml=Decimal("1.5"),
        deviation_reason="part of the dose leaked from the syringe",
    )
    deviation = Deviation.objects.get(detected_from__startswith="dose_volume")
    assert "1.5 mL instead of 2.0 mL" in deviation.description
    lot.refresh_from_db()
    assert lot.balance_ml == Decimal("18.5")


def test_ultrasound_guidance_is_required(arm_a, lot, coordinator):
    with pytest.raises(ValidationError):
        inject(arm_a, lot, timezone.localdate(), coordinator, ultrasound_guided=False)
    injection = inject(arm_a, lot, timezone.localdate(), coordinator)
    with pytest.raises(IntegrityError), transaction.atomic():
        Injection.objects.filter(pk=injection.pk).update(ultrasound_guided=False)


def test_changing_the_lot_of_an_injection_returns_the_stock(arm_a, lot, coordinator, investigator):
    other = factories.released_lot(by=coordinator, releaser=investigator, lot_number="SEC-002")
    injection = inject(arm_a, lot, timezone.localdate(), coordinator)
    inject(arm_a, other, timezone.localdate(), coordinator, version=injection.version)
    lot.refresh_from_db()
    other.refresh_from_db()
    assert (lot.balance_ml, other.balance_ml) == (Decimal("20.0"), Decimal("18.0"))
    assert LotTransaction.objects.filter(lot=lot, kind="correction").count() == 1


def test_injections_only_at_m0_and_m6(client, coordinator, arm_a):
    client.force_login(coordinator)
    m1 = visit(arm_a, "M1")
    assert client.get(form_url("injection", visit=m1)).status_code == 404
    m0 = visit(arm_a, "M0")
    assert client.get(form_url("injection", visit=m0)).status_code == 200
    assert client.get(form_url("prgf_preparation", visit=m0)).status_code == 404


def test_the_injection_page_offers_only_usable_lots_and_hides_prgf_for_arm_a(
    client, coordinator, investigator, arm_a, lot
):
    factories.lot(by=coordinator, lot_number="QUAR-1")  # quarantined
    expired = factories.released_lot(
        by=coordinator, releaser=investigator, lot_number="OLD-1", expires_in_days=1
    )
    SecretomeLot.objects.filter(pk=expired.pk).update(
        expires_on=timezone.localdate() - timedelta(days=1)
    )
    client.force_login(coordinator)
    form = client.get(form_url("injection", visit=visit(arm_a, "M0"))).context["form"]
    assert list(form.fields["secretome_lot"].queryset) == [lot]
    assert "prgf_volume_ml" not in form.fields


def test_the_injection_page_refuses_a_quarantined_lot(client, coordinator, arm_a):
    quarantined = factories.lot(by=coordinator, lot_number="QUAR-1")
    client.force_login(coordinator)
    url = form_url("injection", visit=visit(arm_a, "M0"))
    data = injection_data(arm_a, quarantined, timezone.localdate())
    post = {
        "version": 0,
        "injected_at": timezone.localtime(data["injected_at"]).strftime("%Y-%m-%dT%H:%M"),
        "knee": "R",
        "ultrasound_guided": "yes",
        "approach": "superolateral",
        "needle_gauge": "21",
        "aspiration_done": "no",
        "secretome_lot": quarantined.pk,
        "secretome_volume_ml": "2.0",
    }
    response = client.post(url, post)
    assert response.status_code == 400
    assert response.context["form"].errors["secretome_lot"]
    assert not Injection.objects.exists()


# --- Lots --------------------------------------------------------------------------------------
def test_release_needs_every_test_passed_and_the_release_permission(coordinator, investigator):
    new_lot = factories.lot(by=coordinator)
    with pytest.raises(PermissionDenied):
        services.decide_lot_release(lot=new_lot, release=True, note="", by=coordinator)
    with pytest.raises(ValidationError, match="Sterility"):
        services.decide_lot_release(lot=new_lot, release=True, note="", by=investigator)
    for test, (method, spec, result) in RELEASE_TESTS.items():
        services.record_release_test(
            lot=new_lot,
            data={
                "test": test,
                "method": method,
                "specification": spec,
                "result": result,
                "passed": test != "endotoxin",
                "tested_on": timezone.localdate(),
            },
            by=coordinator,
        )
    with pytest.raises(ValidationError, match="Endotoxin"):
        services.decide_lot_release(lot=new_lot, release=True, note="", by=investigator)
    with pytest.raises(ValidationError):
        services.decide_lot_release(lot=new_lot, release=False, note="", by=investigator)
    rejected = services.decide_lot_release(
        lot=new_lot, release=False, note="endotoxin out of specification", by=investigator
    )
    assert rejected.status == "rejected" and rejected.decided_by == investigator
    assert not services.usable_lots(timezone.localdate()).filter(pk=new_lot.pk).exists()


def test_a_released_lot_past_expiry_cannot_be_used(arm_a, coordinator, investigator):
    old = factories.released_lot(by=coordinator, releaser=investigator)
    SecretomeLot.objects.filter(pk=old.pk).update(expires_on=timezone.localdate() - timedelta(1))
    with pytest.raises(ValidationError) as error:
        inject(arm_a, old, timezone.localdate(), coordinator)
    assert "secretome_lot" in error.value.message_dict
    assert not Injection.objects.exists()


def test_destroyed_stock_is_in_the_ledger_and_cannot_exceed_the_balance(lot, coordinator):
    services.destroy_stock(
        lot=lot, volume_ml=Decimal("5.0"), note="thawed in error", by=coordinator
    )
    lot.refresh_from_db()
    assert lot.balance_ml == Decimal("15.0")
    with pytest.raises(ValidationError, match="only 15.0 mL"):
        services.destroy_stock(lot=lot, volume_ml=Decimal("16.0"), note="x", by=coordinator)
    with pytest.raises(IntegrityError), transaction.atomic():
        SecretomeLot.objects.filter(pk=lot.pk).update(balance_ml=Decimal("-1"))


def test_the_lot_page_lists_every_participant_who_received_it(client, coordinator, lahore, lot):
    first = factories.participant_with_visits(site=lahore, by=coordinator)
    second = factories.participant_with_visits(site=lahore, by=coordinator)
    for p in (first, second):
        inject(p, lot, timezone.localdate(), coordinator)
    client.force_login(coordinator)
    response = client.get(reverse("lot_detail", args=[lot.pk]))
    assert {i.participant for i in response.context["recipients"]} == {first, second}
    assert response.context["lot"].balance_ml == Decimal("16.0")


def test_the_lot_register_lists_the_latest_made_lots_a_page_at_a_time(
    client, monitor, coordinator, investigator
):
    today = timezone.localdate()
    for number in range(26):  # made a day apart, the first lot the latest made
        received = {
            "lot_number": f"SEC-{number:03d}",
            "manufactured_on": today - timedelta(days=10 + number),
        }
        if number == 1:
            factories.released_lot(by=coordinator, releaser=investigator, **received)
        else:
            factories.lot(by=coordinator, **received)
    released = SecretomeLot.objects.get(lot_number="SEC-001")
    client.force_login(monitor)

    first = client.get(reverse("lot_list"))
    numbers = [row["lot_number"] for row in first.context["rows"]]
    assert numbers == [f"SEC-{number:03d}" for number in range(25)]
    html = first.content.decode()
    made = (today - timedelta(days=11)).isoformat()
    assert (
        f'<a href="{reverse("lot_detail", args=[released.pk])}">SEC-001</a>' in html
        and f"<td>{made}</td>" in html
        and '<span class="badge text-bg-success">Released</span>' in html
        and '<span class="badge text-bg-warning">Quarantine (not released)</span>' in html
    )
    second = client.get(f"{reverse('lot_list')}?{first.context['page'].next_query}")
    assert [row["lot_number"] for row in second.context["rows"]] == ["SEC-025"]
    assert second.context["page"].next_query is None


def test_lot_pages_check_permissions(client, monitor, coordinator, lot):
    client.force_login(monitor)
    assert client.get(reverse("lot_detail", args=[lot.pk])).status_code == 200
    assert client.get(reverse("lot_new")).status_code == 403
    response = client.post(
        reverse("lot_detail", args=[lot.pk]),
        {"action": "destroy", "destroy-volume_ml": "1.0", "destroy-note": "x"},
    )
    assert response.status_code == 403
    lot.refresh_from_db()
    assert lot.balance_ml == Decimal("20.0")


def test_receiving_a_lot_through_the_page_validates_dates(client, coordinator):
    client.force_login(coordinator)
    today = timezone.localdate()
    response = client.post(
        reverse("lot_new"),
        {
            "lot_number": "SEC-9",
            "cell_source": "ADMSC",
            "manufactured_on": today.isoformat(),
            "expires_on": (today - timedelta(days=1)).isoformat(),
            "storage": "-80 °C",
            "volume_received_ml": "10",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["expires_on"]
    assert not SecretomeLot.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_simultaneous_injections_never_take_the_balance_below_zero(
    lahore, coordinator, investigator
):
    small = factories.released_lot(by=coordinator, releaser=investigator, volume="10.0")
    participants = [
        factories.participant_with_visits(site=lahore, by=coordinator) for _ in range(8)
    ]
    barrier = threading.Barrier(len(participants))
    done, refused = [], []

    def worker(participant):
        try:
            barrier.wait(timeout=30)
            done.append(inject(participant, small, timezone.localdate(), coordinator))
        except ValidationError:
            refused.append(participant)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(p,)) for p in participants]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    small.refresh_from_db()
    assert (len(done), len(refused)) == (5, 3)  # 10 mL is five 2 mL doses
    assert small.balance_ml == Decimal("0.0")
    balances = list(
        LotTransaction.objects.filter(lot=small)
        .order_by("id")
        .values_list("balance_after_ml", flat=True)
    )
    assert balances == [Decimal(v) for v in ("10.0", "8.0", "6.0", "4.0", "2.0", "0.0")]


# --- In the browser (Playwright driving Debian's Chromium) --------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_m0_injection_for_an_arm_b_participant_with_prgf_preparation(live_server, page):
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    coordinator = factories.UserFactory(
        username="coordinator", role=roles.COORDINATOR, sites=[site]
    )
    factories.UserFactory(username="investigator", role=roles.INVESTIGATOR, sites=[site])
    investigator = User.objects.get(username="investigator")
    lot = factories.released_lot(by=coordinator, releaser=investigator, lot_number="SEC-24-007")
    now = timezone.localtime(timezone.now(), site.zone).replace(second=0, microsecond=0)
    if now.hour < 2:  # the preparation began before the site's midnight: the visit was yesterday
        now = (now - timedelta(days=1)).replace(hour=23, minute=0)
    participant = factories.participant_with_visits(
        site=site,
        arm="B",
        by=coordinator,
        participant_id="LHR-001",
        randomized_at=now - timedelta(hours=1),
    )
    drawn = now - timedelta(minutes=50)

    def at(moment):
        return moment.strftime("%Y-%m-%dT%H:%M")

    log_in(page, live_server.url, "coordinator")
    page.goto(f"{live_server.url}/participants/{participant.pk}/")
    m0 = (
        page.get_by_test_id("timeline")
        .get_by_role("row")
        .filter(has_text="Baseline and injection 1")
    )

    m0.get_by_role("link", name="PRGF preparation").click()
    page.fill("#id_blood_drawn_at", at(drawn))
    page.fill("#id_blood_volume_ml", "18")
    page.check("#id_anticoagulant_0")
    page.fill("#id_centrifugation_g", "580")
    page.fill("#id_centrifugation_minutes", "8")
    page.fill("#id_centrifugation_temperature_c", "22")
    page.check("#id_fraction_collected_0")
    page.fill("#id_platelets_whole_blood", "210")
    page.fill("#id_platelets_prgf", "520")
    page.fill("#id_activated_at", at(drawn + timedelta(minutes=25)))
    page.fill("#id_calcium_chloride_ul", "50")
    page.fill("#id_mixed_with_secretome_at", at(drawn + timedelta(minutes=30)))
    page.select_option("#id_operator", label="Coordinator Tester")
    page.select_option("#id_identity_checked_by", label="Investigator Tester")
    page.get_by_label("Form complete").check()
    page.get_by_role("button", name="Save and exit").click()
    expect(page.get_by_text("PRGF preparation saved.")).to_be_visible()

    m0.get_by_role("link", name="Injection procedure").click()
    page.fill("#id_injected_at", at(now - timedelta(minutes=5)))
    page.check("#id_knee_1")
    page.check("#id_ultrasound_guided_0")
    page.check("#id_approach_0")
    page.fill("#id_needle_gauge", "21")
    page.check("#id_aspiration_done_0")
    page.fill("#id_aspiration_volume_ml", "4")
    page.check("#id_aspiration_appearance_0")
    page.check("#id_aspiration_sample_sent_0")
    page.select_option("#id_secretome_lot", index=1)
    expect(page.locator("#id_secretome_volume_ml")).to_have_value("2.0")
    expect(page.locator("#id_prgf_volume_ml")).to_have_value("1.0")
    page.get_by_label("Form complete").check()
    screenshot(page, "injection-arm-b.png")
    page.get_by_role("button", name="Save and exit").click()
    expect(page.get_by_text("Injection procedure saved.")).to_be_visible()
    expect(m0).to_contain_text("Completed")
    screenshot(page, "timeline-after-m0.png")

    injection = Injection.objects.get()
    assert injection.total_volume_ml == Decimal("3.0")
    assert injection.prgf_preparation.platelet_fold == Decimal("2.48")
    assert injection.minutes_draw_to_injection == 45
    lot.refresh_from_db()
    assert lot.balance_ml == Decimal("18.0")


def test_the_lot_page_reads_the_same_number_of_queries_whatever_its_ledger(
    client, monitor, coordinator, lot, lahore
):
    """Who made each ledger line is named or not by site: read once, not once per line."""
    client.force_login(monitor)
    url = reverse("lot_detail", args=[lot.pk])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    first = factories.participant_with_visits(site=lahore, by=coordinator, participant_id="LHR-029")
    inject(first, lot, timezone.localdate(), coordinator)  # lists not empty: each read once
    client.get(url)  # caches
    before = queries()
    for number in range(3):
        participant = factories.participant_with_visits(
            site=lahore, by=coordinator, participant_id=f"LHR-03{number}"
        )
        inject(participant, lot, timezone.localdate(), coordinator)
    assert lot.ledger.count() >= 4
    assert queries() == before


def test_the_lot_page_lists_a_page_at_a_time_and_counts_other_sites_in_the_database(
    client, monitor, coordinator, outsider, lot, lahore, islamabad, monkeypatch
):
    from visits import views

    monkeypatch.setattr(views, "LOT_PAGE_SIZE", 2)
    for number in range(3):
        participant = factories.participant_with_visits(
            site=lahore, by=coordinator, participant_id=f"LHR-04{number}"
        )
        inject(participant, lot, timezone.localdate(), coordinator)
    elsewhere = factories.participant_with_visits(
        site=islamabad, by=outsider, participant_id="ISB-001"
    )
    inject(elsewhere, lot, timezone.localdate(), outsider)
    client.force_login(monitor)
    url = reverse("lot_detail", args=[lot.pk])

    first = client.get(url)
    assert [i.participant.participant_id for i in first.context["recipients"]] == [
        "LHR-040",
        "LHR-041",
    ]
    assert first.context["other_site_recipients"] == 1
    html = first.content.decode()
    assert "ISB-001" not in html and "And 1 participant injection at other sites" in html
    assert "{#" not in html and "Paginator" not in html
    assert 'href="?recipients=2"' in html and 'href="?ledger=2"' in html
    second = client.get(url, {"recipients": 2})
    assert [i.participant.participant_id for i in second.context["recipients"]] == ["LHR-042"]
    # The ledger: receipt and four injections, two lines a page, the other site's unnamed.
    lines = [
        row for number in (1, 2, 3) for row in client.get(url, {"ledger": number}).context["ledger"]
    ]
    assert len(lines) == lot.ledger.count() == 5
    assert [row["participant"] for row in lines].count("another site") == 1
