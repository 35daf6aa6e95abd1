"""Imaging CRFs: X-ray (KL grade, joint space width) and MRI cartilage per MOAKS subregion."""

import pytest

from outcomes import imaging
from outcomes.models import Mri, Xray
from tests import factories
from tests.helpers import form_url, site_now
from visits.models import Visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def m0(lahore, coordinator):
    participant = factories.participant_with_visits(site=lahore, by=coordinator)
    return Visit.objects.get(participant=participant, code="M0")


def xray_post(reader, **overrides):
    data = {
        "version": 0,
        "taken_on": site_now().date().isoformat(),  # in the M0 window: randomized today
        "view": "fixed_flexion_pa",
        "kl_grade_left": "",
        "jsw_medial_left_mm": "",
        "jsw_lateral_left_mm": "",
        "kl_grade_right": "2",
        "jsw_medial_right_mm": "3.45",
        "jsw_lateral_right_mm": "5.10",
        "reader": reader.pk,
        "reader_blinded": "yes",
    }
    return {**data, **overrides}


def mri_post(reader, **overrides):
    data = {
        "version": 0,
        "scanned_on": site_now().date().isoformat(),
        "knee": "R",
        "field_strength": "3.0",
        "sequences": "sagittal PD FS, coronal T1",
        "reader": reader.pk,
        "reader_blinded": "yes",
    }
    for code in imaging.SUBREGIONS:
        data |= {f"{code}_area": "0", f"{code}_full_thickness": "0"}
    return {**data, **overrides}


def test_an_xray_read_is_saved(client, coordinator, investigator, m0):
    client.force_login(coordinator)
    url = form_url("xray", visit=m0)
    assert client.post(url, xray_post(investigator)).status_code == 302
    xray = Xray.objects.get(visit=m0)
    assert (xray.kl_grade_right, str(xray.jsw_medial_right_mm), xray.kl_grade_left) == (
        2,
        "3.45",
        None,
    )
    assert xray.reader == investigator and xray.reader_blinded


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"jsw_lateral_right_mm": ""}, "jsw_lateral_right_mm"),
        ({"jsw_medial_right_mm": "16"}, "jsw_medial_right_mm"),
        ({"jsw_medial_right_mm": "3.456"}, "jsw_medial_right_mm"),
        ({"kl_grade_right": "5"}, "kl_grade_right"),
        ({"taken_on": "2999-01-01"}, "taken_on"),
        ({"view": ""}, "view"),
        ({"reader_blinded": ""}, "reader_blinded"),
        (
            {"kl_grade_right": "", "jsw_medial_right_mm": "", "jsw_lateral_right_mm": ""},
            "kl_grade_left",
        ),
    ],
)
def test_bad_xray_input_is_refused_next_to_the_field(
    client, coordinator, investigator, m0, overrides, field
):
    client.force_login(coordinator)
    url = form_url("xray", visit=m0)
    response = client.post(url, xray_post(investigator, **overrides))
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not Xray.objects.exists()


def test_a_reader_from_another_site_is_refused(client, coordinator, outsider, m0):
    client.force_login(coordinator)
    url = form_url("xray", visit=m0)
    response = client.post(url, xray_post(outsider))
    assert response.context["form"].errors["reader"]


def test_an_mri_read_stores_every_subregion(client, coordinator, investigator, m0):
    client.force_login(coordinator)
    url = form_url("mri", visit=m0)
    data = mri_post(
        investigator,
        cmf_area="2",
        cmf_full_thickness="1",
        cmf_thickness_mm="1.85",
        cmf_t2_ms="42.5",
    )
    assert client.post(url, data).status_code == 302
    mri = Mri.objects.get(visit=m0)
    assert set(mri.cartilage) == set(imaging.SUBREGIONS)
    assert mri.cartilage["cmf"] == {
        "area": 2,
        "full_thickness": 1,
        "thickness_mm": 1.85,
        "t2_ms": 42.5,
    }
    assert mri.cartilage["pm"] == {
        "area": 0,
        "full_thickness": 0,
        "thickness_mm": None,
        "t2_ms": None,
    }
    assert imaging.subregions_with_loss(mri.cartilage) == 1
    form = client.get(url).context["form"]
    assert form["cmf_area"].value() == 2  # the saved read is shown again


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cmf_area": "1", "cmf_full_thickness": "2"}, "cmf_full_thickness"),
        ({"plt_area": ""}, "plt_area"),
        ({"plt_area": "4"}, "plt_area"),
        ({"cmt_t2_ms": "-3"}, "cmt_t2_ms"),
        ({"field_strength": "7.0"}, "field_strength"),
    ],
)
def test_bad_mri_input_is_refused_next_to_the_field(
    client, coordinator, investigator, m0, overrides, field
):
    client.force_login(coordinator)
    url = form_url("mri", visit=m0)
    response = client.post(url, mri_post(investigator, **overrides))
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert response.context["form"]["sequences"].value() == "sagittal PD FS, coronal T1"
    assert not Mri.objects.exists()
