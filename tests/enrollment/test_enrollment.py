"""Screening, consent and randomization through the pages and services."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from enrollment import randomization, services
from enrollment.models import Consent, Participant, Screening
from monitoring.demo import eligible_answers
from tests import factories, helpers
from tests.helpers import LIST_CSV, log_in, screenshot
from trialsite import protocol, roles
from trialsite.audit.models import AuditEvent
from visits.models import Visit
from visits.services import create_visit_schedule

pytestmark = pytest.mark.django_db


def screening_post(**overrides) -> dict:
    """The screening form as a browser posts it, for an eligible candidate."""
    data = {"version": 0, **helpers.as_post(factories.eligible_answers())}
    return {**data, **{k: str(v) for k, v in overrides.items()}}


def test_screening_numbers_are_consecutive_per_site(coordinator, outsider, lahore, islamabad):
    first = factories.screening(site=lahore, by=coordinator)
    second = factories.screening(site=lahore, by=coordinator)
    other = factories.screening(site=islamabad, by=outsider)
    assert [first.screening_number, second.screening_number] == ["LHR-S001", "LHR-S002"]
    assert other.screening_number == "ISB-S001"


def test_the_decision_is_saved_with_age_bmi_and_protocol_version(coordinator, lahore):
    screening = factories.screening(site=lahore, by=coordinator, vas_index_knee_mm=10)
    assert screening.eligible is False
    assert screening.failed_criteria == ["vas"]
    assert screening.ineligibility_reasons == ["VAS pain 10 mm is below 20 mm."]
    assert screening.criteria_version == protocol.PROTOCOL_VERSION
    assert screening.age_years == 45 or screening.age_years == 44
    assert str(screening.bmi) == "27.7"


def test_a_coordinator_screens_a_candidate_through_the_page(client, coordinator, lahore):
    client.force_login(coordinator)
    response = client.post(reverse("screening_new"), screening_post())
    screening = Screening.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("screening_detail", args=[screening.pk])
    assert screening.eligible and screening.site == lahore
    assert screening.created_by == coordinator
    page = client.get(response["Location"]).content.decode()
    assert "Eligible" in page and "Record consent" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("vas_index_knee_mm", "101", "from 0 to 100"),
        ("vas_index_knee_mm", "abc", "from 0 to 100"),
        ("height_cm", "40", "greater than or equal to 100"),
        ("screening_date", "2999-01-01", "cannot be in the future"),
        ("date_of_birth", "2999-01-01", "before the screening date"),
        ("kl_grade_right", "7", "Select a valid choice"),
        ("willing", "", "Answer yes or no."),
        ("secondary_oa_cause", "", "Say what caused the secondary OA."),
        ("pregnant_or_breastfeeding", "", "Answer yes or no for a female candidate."),
    ],
)
def test_bad_screening_input_gets_a_message_next_to_the_field(
    client, coordinator, lahore, field, value, message
):
    extra = {"secondary_oa": "yes"} if field == "secondary_oa_cause" else {}
    if field == "pregnant_or_breastfeeding":
        extra = {"sex": "F"}
    client.force_login(coordinator)
    response = client.post(reverse("screening_new"), screening_post(**{field: value}, **extra))
    assert response.status_code == 400
    form = response.context["form"]
    assert any(message in e for e in form.errors[field]), form.errors
    assert form["weight_kg"].value() == "80.0"  # the rest of what was typed is kept
    assert not Screening.objects.exists()


def test_the_live_check_shows_the_decision_without_saving(client, coordinator, lahore):
    client.force_login(coordinator)
    response = client.post(
        reverse("screening_check"), screening_post(vas_index_knee_mm="5", allergy="yes")
    )
    html = response.content.decode()
    assert "Not eligible" in html
    assert "VAS pain 5 mm is below 20 mm." in html and "allergy" in html.lower()
    assert "Age at screening: <strong>" in html
    response = client.post(reverse("screening_check"), {"sex": "M"})
    assert "Not decided yet" in response.content.decode()
    response = client.post(reverse("screening_check"), screening_post())
    assert ">Eligible<" in response.content.decode()
    assert not Screening.objects.exists()


def test_correcting_a_screening_needs_a_reason_and_decides_again(client, coordinator, lahore):
    screening = factories.screening(site=lahore, by=coordinator)
    client.force_login(coordinator)
    url = reverse("screening_edit", args=[screening.pk])
    data = screening_post(version=1, allergy="yes")
    response = client.post(url, data)
    assert response.status_code == 400
    assert "reason" in str(response.context["form"].errors["reason_for_change"])
    response = client.post(url, {**data, "reason_for_change": "allergy found in notes"})
    assert response.status_code == 302
    screening.refresh_from_db()
    assert not screening.eligible and screening.failed_criteria == ["allergy"]
    event = AuditEvent.objects.filter(table_name="enrollment_screening").last()
    assert event.reason == "allergy found in notes"
    assert ("allergy", False, True) in event.changes()


def test_a_stale_screening_correction_shows_the_conflict_page(client, coordinator, lahore):
    screening = factories.screening(site=lahore, by=coordinator)
    services.update_screening(
        screening=screening,
        data={"vas_index_knee_mm": 60},
        version=1,
        reason="re-measured",
        by=coordinator,
    )
    client.force_login(coordinator)
    response = client.post(
        reverse("screening_edit", args=[screening.pk]),
        screening_post(version=1, vas_index_knee_mm="70", reason_for_change="typo"),
    )
    assert response.status_code == 409
    assert ("VAS pain of the index knee (mm)", "70", "60") in response.context["rows"]
    screening.refresh_from_db()
    assert screening.vas_index_knee_mm == 60


def test_consent_through_the_page(client, coordinator, lahore):
    screening = factories.screening(site=lahore, by=coordinator)
    client.force_login(coordinator)
    url = reverse("consent_new", args=[screening.pk])
    when = timezone.localtime() - timedelta(minutes=10)
    response = client.post(
        url,
        {
            "consented_at": when.strftime("%Y-%m-%dT%H:%M"),
            "form_version": protocol.CONSENT_FORM_VERSIONS[0],
            "obtained_by": coordinator.pk,
            "copy_given": "yes",
        },
    )
    assert response.status_code == 302
    consent = Consent.objects.get(screening=screening)
    assert consent.obtained_by == coordinator and consent.copy_given


def test_consent_in_the_future_or_by_another_site_is_refused(client, coordinator, outsider, lahore):
    screening = factories.screening(site=lahore, by=coordinator)
    client.force_login(coordinator)
    response = client.post(
        reverse("consent_new", args=[screening.pk]),
        {
            "consented_at": "2999-01-01T10:00",
            "form_version": "0.9",
            "obtained_by": outsider.pk,
            "copy_given": "",
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"consented_at", "form_version", "obtained_by", "copy_given"}
    assert not Consent.objects.exists()


def test_randomizing_through_the_page(client, coordinator, lahore):
    services.import_randomization_list(content=LIST_CSV, file_name="l.csv", imported_by="dm")
    screening = factories.consented_screening(site=lahore, by=coordinator)
    client.force_login(coordinator)
    response = client.post(reverse("randomize", args=[screening.pk]), follow=True)
    participant = Participant.objects.get()
    assert response.redirect_chain[-1][0] == reverse("participant_detail", args=[participant.pk])
    assert f"Randomized: participant {participant.participant_id}" in response.content.decode()


def test_a_refused_randomization_says_why_on_the_page(client, coordinator, lahore):
    screening = factories.screening(site=lahore, by=coordinator)  # no consent, no list
    client.force_login(coordinator)
    response = client.post(reverse("randomize", args=[screening.pk]), follow=True)
    assert services.NO_CONSENT in response.content.decode()
    assert not Participant.objects.exists()


@pytest.mark.parametrize("persona", ["monitor", "investigator", "data_manager"])
def test_other_roles_cannot_screen_consent_or_randomize(
    request, client, coordinator, lahore, persona
):
    screening = factories.screening(site=lahore, by=coordinator)
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("screening_log")).status_code == 200
    assert client.get(reverse("screening_detail", args=[screening.pk])).status_code == 200
    assert client.post(reverse("screening_new"), screening_post()).status_code == 403
    assert client.post(reverse("consent_new", args=[screening.pk]), {}).status_code == 403
    assert client.post(reverse("randomize", args=[screening.pk])).status_code == 403
    assert Screening.objects.count() == 1 and not Consent.objects.exists()


def test_another_sites_screenings_are_invisible(client, coordinator, outsider, lahore):
    screening = factories.screening(site=lahore, by=coordinator)
    client.force_login(outsider)
    assert client.get(reverse("screening_detail", args=[screening.pk])).status_code == 404
    assert client.post(reverse("randomize", args=[screening.pk])).status_code == 404
    assert list(client.get(reverse("screening_log")).context["page"].rows) == []


def test_withdrawal_is_recorded_and_stops_new_visits(client, coordinator, lahore):
    participant = factories.ParticipantFactory(site=lahore)
    client.force_login(coordinator)
    response = client.post(
        reverse("consent_withdraw", args=[participant.screening_id]),
        {"withdrawn_on": timezone.localdate().isoformat(), "data_use_allowed": "yes", "note": ""},
    )
    assert response.status_code == 302
    consent = Consent.objects.get(screening=participant.screening_id)
    assert consent.is_withdrawn and consent.data_use_allowed is True
    participant.refresh_from_db()
    assert create_visit_schedule(participant=participant, by=coordinator) == []
    assert not Visit.objects.filter(participant=participant).exists()
    assert list(Participant.objects.active()) == []


def test_withdrawal_before_consent_or_in_the_future_is_refused(client, coordinator, lahore):
    participant = factories.ParticipantFactory(site=lahore)
    client.force_login(coordinator)
    url = reverse("consent_withdraw", args=[participant.screening_id])
    for day in (
        timezone.localdate() - timedelta(days=factories.CONSENTED_DAYS_AGO + 30),
        timezone.localdate() + timedelta(days=1),
    ):
        response = client.post(url, {"withdrawn_on": day.isoformat(), "data_use_allowed": "no"})
        assert response.status_code == 400
        assert response.context["form"].errors["withdrawn_on"]
    assert not Consent.objects.get(screening=participant.screening_id).is_withdrawn


def test_the_screening_log_counts_for_consort(client, coordinator, lahore, islamabad, outsider):
    services.import_randomization_list(content=LIST_CSV, file_name="l.csv", imported_by="dm")
    factories.screening(site=lahore, by=coordinator, allergy=True, vas_index_knee_mm=3)
    factories.screening(site=lahore, by=coordinator, willing=False)
    factories.screening(site=lahore, by=coordinator)  # eligible, no consent yet
    for _ in range(3):
        services.randomize_participant(
            screening=factories.consented_screening(site=lahore, by=coordinator), by=coordinator
        )
    factories.screening(site=islamabad, by=outsider, allergy=True)  # another site
    client.force_login(coordinator)
    consort = client.get(reverse("screening_log")).context["consort"]
    assert consort.assessed == 6
    assert consort.not_eligible == 2
    assert dict(consort.excluded_by_criterion) == {
        "VAS pain too low": 1,
        "Allergy or allergic constitution": 1,
        "Not willing to take part": 1,
    }
    assert consort.eligible_not_randomized == 1
    assert consort.randomized == 3
    assert sum(n for _, n in consort.randomized_by_arm) == 3


def test_the_home_page_shows_enrollment_against_the_target(client, coordinator, lahore):
    factories.ParticipantFactory(site=lahore)
    client.force_login(coordinator)
    response = client.get(reverse("home"))
    assert response.context["enrollment"] == {"randomized": 1, "target": 25}
    assert "of 25" in response.content.decode()


# --- In the browser (Playwright driving Debian's Chromium) --------------------------------------


# The yes/no answers of an eligible candidate.
YES_NO_ANSWERS = {k: v for k, v in eligible_answers().items() if isinstance(v, bool)}


def fill_screening(page: Page, *, vas: int, dob: str = "1980-03-01") -> None:
    page.get_by_label("Screening date").fill(timezone.localdate().isoformat())
    page.get_by_label("Date of birth").fill(dob)
    page.check("#id_sex_1")  # male
    page.get_by_label("Height (cm)").fill("168.5")
    page.get_by_label("Weight (kg)").fill("77")
    page.check("#id_index_knee_1")  # right
    page.check("#id_kl_grade_left_1")
    page.check("#id_kl_grade_right_2")
    for name, yes in YES_NO_ANSWERS.items():
        page.check(f"#id_{name}_{0 if yes else 1}")
    page.get_by_label("VAS pain of the index knee (mm)").fill(str(vas))
    page.get_by_label("VAS pain of the index knee (mm)").blur()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_coordinator_screens_consents_and_randomizes(live_server, page):
    site = factories.SiteFactory(code="LHR", name="CEMB Lahore")
    factories.UserFactory(username="coordinator", role=roles.COORDINATOR, sites=[site])
    services.import_randomization_list(
        content=randomization.to_csv(randomization.make_list(seed=9, size=30)).encode(),
        file_name="list.csv",
        imported_by="test",
    )
    log_in(page, live_server.url, "coordinator")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Screening").click()

    # An ineligible candidate: the panel says why while the form is filled.
    page.get_by_role("link", name="New screening").click()
    fill_screening(page, vas=12)
    result = page.get_by_test_id("eligibility-result")
    expect(result).to_have_text("Not eligible")
    expect(page.locator("#eligibility")).to_contain_text("VAS pain 12 mm is below 20 mm.")
    expect(page.get_by_text("BMI 27.1")).to_be_visible()
    page.get_by_role("button", name="Save screening").click()
    expect(page.get_by_test_id("decision")).to_have_text("Not eligible")
    expect(page.get_by_text("Not eligible: cannot be randomized.")).to_be_visible()

    # An eligible candidate.
    page.get_by_role("navigation", name="breadcrumb").get_by_role(
        "link", name="Screening log"
    ).click()
    page.get_by_role("link", name="New screening").click()
    fill_screening(page, vas=64)
    expect(page.get_by_test_id("eligibility-result")).to_have_text("Eligible")
    screenshot(page, "screening-eligible.png")
    page.get_by_role("button", name="Save screening").click()
    expect(page.get_by_test_id("decision")).to_have_text("Eligible")

    page.get_by_role("link", name="Record consent").click()
    page.get_by_label("Date and time of consent").fill(
        timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    )
    page.get_by_label("Consent obtained by").select_option(label="Coordinator Tester")
    page.check("#id_copy_given_0")
    page.get_by_role("button", name="Record consent").click()
    expect(page.get_by_text("Consent recorded.")).to_be_visible()

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Randomize").click()  # asks first; dismissed: nothing done
    assert asked and asked[0].startswith("Randomize ") and "This is final" in asked[0]
    expect(page.get_by_role("button", name="Randomize")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Randomize").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("LHR-001")
    participant = Participant.objects.get()
    expect(page.get_by_text(f"Arm {participant.arm}:")).to_be_visible()
    assert participant.slot.sequence == 1
    screenshot(page, "participant-randomized.png")

    nav.get_by_role("link", name="Screening").click()
    expect(page.get_by_test_id("consort-assessed")).to_have_text("2")
    expect(page.get_by_test_id("consort-randomized")).to_have_text("1")
    screenshot(page, "screening-log.png")
