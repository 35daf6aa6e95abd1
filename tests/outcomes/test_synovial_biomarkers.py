"""Synovial biomarkers: results as reported, unit conversion, quantification flags, the CRF."""

from decimal import Decimal

import pytest

from outcomes import biomarkers
from outcomes.biomarkers import ALQ, BLQ, ResultError, interpret
from outcomes.models import SynovialBiomarkers
from tests import factories
from tests.helpers import form_url, site_now
from visits.models import Visit

D = Decimal


@pytest.mark.parametrize(
    ("reported", "unit", "lloq", "uloq", "pg_ml", "flag"),
    [
        ("12.5", "pg/mL", D("3.9"), D("250"), D("12.5"), ""),
        ("0.8", "ng/mL", D("0.1"), D("20"), D("800.0"), ""),
        ("<3.9", "pg/mL", D("3.9"), D("250"), None, BLQ),
        ("3.8", "pg/mL", D("3.9"), D("250"), None, BLQ),
        ("3.9", "pg/mL", D("3.9"), D("250"), D("3.9"), ""),
        ("250", "pg/mL", D("3.9"), D("250"), D("250"), ""),
        ("251", "pg/mL", D("3.9"), D("250"), D("251"), ALQ),
        # Exactly at, and a hundredth either side of, each limit (Decimal: no rounding).
        ("3.89", "pg/mL", D("3.9"), D("250"), None, BLQ),
        ("3.91", "pg/mL", D("3.9"), D("250"), D("3.91"), ""),
        ("249.99", "pg/mL", D("3.9"), D("250"), D("249.99"), ""),
        ("250.01", "pg/mL", D("3.9"), D("250"), D("250.01"), ALQ),
        ("0.1", "ng/mL", D("0.1"), D("20"), D("100.0"), ""),  # limits in the reported unit
        ("0.09", "ng/mL", D("0.1"), D("20"), None, BLQ),
        (">2000", "pg/mL", None, None, D("2000"), ALQ),
        ("7", "pg/mL", None, None, D("7"), ""),
    ],
)
def test_results_are_converted_and_flagged(reported, unit, lloq, uloq, pg_ml, flag):
    result = interpret(reported, unit, lloq, uloq)
    assert (result.pg_ml, result.flag) == (pg_ml, flag)


@pytest.mark.parametrize(
    ("reported", "lloq", "uloq", "message"),
    [
        ("abc", None, None, "as reported"),
        ("", None, None, "as reported"),
        ("12,5", None, None, "as reported"),
        ("-3", None, None, "as reported"),
        ("5", D("10"), D("5"), "LLOQ must be below"),
    ],
)
def test_bad_results_are_errors(reported, lloq, uloq, message):
    with pytest.raises(ResultError, match=message):
        interpret(reported, "pg/mL", lloq, uloq)


def test_an_unknown_unit_is_an_error():
    with pytest.raises(ResultError, match="Unknown unit"):
        biomarkers.to_pg_ml(D("1"), "mg/dL")


def post_data(**overrides):
    data = {
        "version": 0,
        "sampled_at": site_now().strftime("%Y-%m-%dT%H:%M"),  # in the M0 window
        "knee": "R",
        "volume_ml": "6.5",
        "appearance": "clear",
        "processing": "1000 g 10 min 4 °C",
        "storage": "-80 °C box 3",
    }
    for analyte in biomarkers.ANALYTES:
        data |= {
            f"{analyte}_reported": "",
            f"{analyte}_unit": "pg/mL",
            f"{analyte}_assay": "",
            f"{analyte}_kit_lot": "",
            f"{analyte}_lloq": "",
            f"{analyte}_uloq": "",
        }
    return {**data, **overrides}


IL6 = {
    "il6_reported": "<3.9",
    "il6_assay": "elisa",
    "il6_kit_lot": "K-22",
    "il6_lloq": "3.9",
    "il6_uloq": "300",
}
MMP13 = {
    "mmp13_reported": "1.25",
    "mmp13_unit": "ng/mL",
    "mmp13_assay": "elisa",
    "mmp13_kit_lot": "M-7",
    "mmp13_lloq": "0.1",
    "mmp13_uloq": "20",
}


@pytest.fixture
def m0(lahore, coordinator):
    participant = factories.participant_with_visits(site=lahore, by=coordinator)
    return Visit.objects.get(participant=participant, code="M0")


def url(visit):
    return form_url("synovial_biomarkers", visit=visit)


@pytest.mark.django_db
def test_the_crf_keeps_the_reported_text_and_stores_the_converted_value(client, coordinator, m0):
    client.force_login(coordinator)
    assert client.post(url(m0), post_data(**IL6, **MMP13)).status_code == 302
    crf = SynovialBiomarkers.objects.get(visit=m0)
    assert (crf.il6_reported, crf.il6_pg_ml, crf.il6_flag) == ("<3.9", None, BLQ)
    assert (crf.mmp13_reported, crf.mmp13_unit, crf.mmp13_pg_ml) == ("1.25", "ng/mL", D("1250"))
    assert crf.il1b_reported == "" and crf.il1b_pg_ml is None
    html = client.get(url(m0)).content.decode()
    assert "1.25 ng/mL" in html and "1250.000" in html and BLQ in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({**IL6, "il6_reported": "less than 4"}, "il6_reported"),
        ({**IL6, "il6_lloq": "400"}, "il6_uloq"),
        ({**IL6, "il6_kit_lot": ""}, "il6_kit_lot"),
        ({**IL6, "il6_assay": ""}, "il6_assay"),
        ({**IL6, "il6_lloq": "-1"}, "il6_lloq"),
        ({"il6_unit": "mg/dL"}, "il6_unit"),
        ({"volume_ml": "0"}, "volume_ml"),
        ({"sampled_at": "2999-01-01T10:00"}, "sampled_at"),
        ({"appearance": ""}, "appearance"),
    ],
)
def test_bad_input_is_refused_next_to_the_field(client, coordinator, m0, overrides, field):
    client.force_login(coordinator)
    response = client.post(url(m0), post_data(**overrides))
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert response.context["form"]["processing"].value() == "1000 g 10 min 4 °C"
    assert not SynovialBiomarkers.objects.exists()


@pytest.mark.django_db
def test_biomarkers_only_at_visits_that_collect_them(client, coordinator, m0):
    client.force_login(coordinator)
    m1 = Visit.objects.get(participant=m0.participant, code="M1")
    assert client.get(url(m1)).status_code == 404
    assert client.get(url(m0)).status_code == 200
