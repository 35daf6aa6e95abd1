"""Concomitant medications (a log form of the participant): every item validated next to its
field, and a medication the protocol forbids opens a protocol deviation, once."""

from datetime import date, timedelta

import pytest
from django.db import IntegrityError, transaction

from safety import concomitant_medication as rules
from safety.models import ConcomitantMedication
from tests import helpers
from tests.helpers import form_url
from trialsite import protocol
from visits.models import Deviation

pytestmark = pytest.mark.django_db

DAY = date(2026, 6, 1)
NSAID = next(r for r in protocol.FORBIDDEN_MEDICATIONS if r.days_before_pain_assessment)


def found(**medication) -> list[str]:
    values = {
        "name": "Amlodipine",
        "atc": "",
        "route": "oral",
        "start": DAY,
        "stop": None,
        "study_start": DAY - timedelta(days=30),
        "pain_assessments": [],
        "today": DAY + timedelta(days=60),
        **medication,
    }
    return [f.rule.key for f in rules.forbidden(**values)]


@pytest.mark.parametrize(
    ("medication", "expected"),
    [
        ({}, []),
        (
            {"name": "Triamcinolone acetonide 40 mg", "route": "intra_articular"},
            ["ia_corticosteroid"],
        ),
        ({"name": "Prednisolone", "route": "oral"}, []),  # not into the knee
        (
            {"name": "Depo-Medrol", "atc": "H02AB04", "route": "intra_articular"},
            ["ia_corticosteroid"],
        ),
        ({"name": "Synvisc", "atc": "M09AX01", "route": "intra_articular"}, ["ia_hyaluronic_acid"]),
        ({"name": "Sodium hyaluronate", "route": "intra_articular"}, ["ia_hyaluronic_acid"]),
        # Stopped before the study started.
        (
            {
                "name": "Hylan G-F 20",
                "route": "intra_articular",
                "stop": DAY - timedelta(days=31),
                "start": DAY - timedelta(days=40),
            },
            [],
        ),
        ({"name": "Ibuprofen", "pain_assessments": []}, []),
    ],
)
def test_which_medications_the_protocol_forbids(medication, expected):
    assert found(**medication) == expected


@pytest.mark.parametrize(
    ("stop_days_before", "forbidden"),
    [
        (NSAID.days_before_pain_assessment + 1, False),
        (NSAID.days_before_pain_assessment, True),  # the last day of the window counts
        (0, True),
        (None, True),  # ongoing at the assessment
    ],
)
def test_an_nsaid_is_forbidden_only_in_the_days_before_a_pain_assessment(
    stop_days_before, forbidden
):
    assessment = DAY + timedelta(days=30)
    stop = None if stop_days_before is None else assessment - timedelta(days=stop_days_before)
    keys = found(name="Diclofenac gel", route="topical", stop=stop, pain_assessments=[assessment])
    assert keys == (["nsaid_before_pain_assessment"] if forbidden else [])
    # By ATC code as well as by name.
    coded = found(name="Brufen", atc="M01AE01", stop=stop, pain_assessments=[assessment])
    assert coded == keys


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("", True),
        ("M", True),
        ("M01", True),
        ("M01A", True),
        ("M01AE01", True),
        ("m01ae01", False),
        ("M1AE01", False),
        ("M01AE0", False),
    ],
)
def test_an_atc_code_has_the_who_shape(code, valid):
    assert (rules.atc_error(code) == "") is valid


def post(**answers) -> dict:
    data = helpers.as_post(helpers.medication_answers())
    data.update({"version": 0, **answers})
    return data


def test_a_coordinator_records_a_medication_and_errors_show_next_to_their_fields(
    client, coordinator, arm_a
):
    client.force_login(coordinator)
    url = form_url("concomitant_medication", participant=arm_a)
    start = helpers.site_now().date() - timedelta(days=10)
    bad = post(
        start_date=start.isoformat(),
        ongoing="no",
        stop_date=(start - timedelta(days=1)).isoformat(),
        atc_code="x1",
        dose="0",
    )
    response = client.post(url, bad)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) >= {"stop_date", "atc_code", "dose"}
    assert "before the start date" in errors["stop_date"][0]
    assert response.context["form"]["drug_name"].value() == "Amlodipine"  # nothing typed is lost
    assert not ConcomitantMedication.objects.exists()
    response = client.post(url, post(atc_code=" c08ca01 "), follow=True)
    entry = ConcomitantMedication.objects.get(participant=arm_a)
    assert (entry.number, entry.atc_code, entry.ongoing) == (1, "C08CA01", True)
    assert "Concomitant medication 1 recorded." in response.content.decode()
    assert not Deviation.objects.exists()


def test_a_forbidden_medication_opens_one_deviation_however_often_it_is_saved(
    client, coordinator, arm_a
):
    client.force_login(coordinator)
    url = form_url("concomitant_medication", participant=arm_a)
    answers = post(
        drug_name="Triamcinolone",
        atc_code="",
        indication="Knee flare",
        dose="40",
        route="intra_articular",
        frequency="once",
        start_date=helpers.site_now().date().isoformat(),
        ongoing="no",
        stop_date=helpers.site_now().date().isoformat(),
    )
    page = client.post(url, answers, follow=True).content.decode()
    deviation = Deviation.objects.get(participant=arm_a)
    assert (deviation.category, deviation.severity, deviation.number) == (
        "forbidden_medication",
        protocol.DEVIATION_SEVERITY["forbidden_medication"],
        1,
    )
    assert "Triamcinolone" in deviation.description
    assert "Forbidden by the protocol" in page and "Protocol deviation 1 was recorded" in page
    entry = ConcomitantMedication.objects.get()
    changed = {**answers, "version": entry.version, "dose": "20", "reason_for_change": "dose"}
    client.post(form_url("concomitant_medication", participant=arm_a, number=1), changed)
    entry.refresh_from_db()
    assert entry.dose == 20
    assert Deviation.objects.filter(participant=arm_a).count() == 1
    # A second forbidden entry is a deviation of its own.
    client.post(url, answers)
    assert Deviation.objects.filter(participant=arm_a).count() == 2


def test_the_database_refuses_a_stop_date_with_ongoing_and_a_dose_out_of_range(coordinator, arm_a):
    entry = helpers.add_medication(arm_a, coordinator)
    for change in ({"stop_date": entry.start_date}, {"dose": 0}):
        with pytest.raises(IntegrityError), transaction.atomic():
            ConcomitantMedication.objects.filter(pk=entry.pk).update(**change)
