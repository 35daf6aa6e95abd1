"""Items that may be missing for a reason (trialsite.crf.fields.MissingReasonField): "not
done", "unknown" or "not applicable" is a code distinct from a blank, never given together with
a value; it is shown on the page and in PDFs and carried to the CSV export, the data dictionary
and ODM.

The boundary tables follow the rule, not the code: a value alone, a reason alone, both,
neither; the lowest value (0) is a value, not a blank.
"""

import csv
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from lxml import etree

from monitoring import exports, odm
from outcomes.models import SynovialBiomarkers, VasPain, Xray
from outcomes.services import record_biomarkers
from tests import helpers
from trialsite.choices import MissingReason
from trialsite.crf import registry
from trialsite.crf.fields import missing_reasons
from trialsite.crf.services import save_crf
from visits.models import Visit

pytestmark = pytest.mark.django_db

CODES = [code for code, _ in MissingReason.choices]


def save_vas(visit, by, **answers):
    return save_crf(
        crf_class=VasPain,
        visit=visit,
        data=helpers.vas_answers(**answers),
        version=0,
        complete=True,
        by=by,
    )


@pytest.mark.parametrize(
    ("score", "why", "refused"),
    [
        (40, "", None),
        (0, "", None),
        (100, "", None),
        *((None, code, None) for code in CODES),
        (None, "", "score_mm"),
        (40, "ND", "score_mm_missing"),
        (0, "UNK", "score_mm_missing"),
    ],
)
def test_vas_pain_takes_a_score_or_the_reason_it_is_missing_not_both_nor_neither(
    coordinator, visit, score, why, refused
):
    if refused is None:
        save_vas(visit, coordinator, score_mm=score, score_mm_missing=why)
        stored = VasPain.objects.get(visit=visit)
        assert (stored.score_mm, stored.score_mm_missing) == (score, why)
        return
    with pytest.raises(ValidationError) as error:
        save_vas(visit, coordinator, score_mm=score, score_mm_missing=why)
    assert set(error.value.message_dict) == {refused}
    assert not VasPain.objects.filter(visit=visit).exists()


@pytest.mark.parametrize(
    ("grade", "why", "refused"),
    [
        (None, "", None),  # not required: a blank stays a blank
        (0, "", None),
        (4, "", None),
        *((None, code, None) for code in CODES),
        (0, "NA", "kl_grade_left_missing"),
        (4, "UNK", "kl_grade_left_missing"),
    ],
)
def test_an_optional_item_may_be_blank_or_missing_for_a_reason_never_both(
    coordinator, visit, grade, why, refused
):
    answers = helpers.xray_answers(coordinator, kl_grade_left=grade, kl_grade_left_missing=why)

    def save():
        return save_crf(
            crf_class=Xray, visit=visit, data=answers, version=0, complete=True, by=coordinator
        )

    if refused is None:
        save()
        stored = Xray.objects.get(visit=visit)
        assert (stored.kl_grade_left, stored.kl_grade_left_missing) == (grade, why)
    else:
        with pytest.raises(ValidationError) as error:
            save()
        assert set(error.value.message_dict) == {refused}


def test_a_biomarker_not_done_has_no_result_and_a_reported_one_no_reason(coordinator, visit):
    answers = helpers.biomarker_answers(il6_reported="", il6_reported_missing="ND")
    record_biomarkers(visit=visit, data=answers, version=0, complete=True, by=coordinator)
    stored = SynovialBiomarkers.objects.get(visit=visit)
    assert (stored.il6_reported, stored.il6_reported_missing) == ("", "ND")
    assert (stored.il6_pg_ml, stored.il6_flag) == (None, "")
    with pytest.raises(ValidationError) as error:
        record_biomarkers(
            visit=visit,
            data={**answers, "il6_reported": "12.5"},
            version=stored.version,
            complete=True,
            reason="result found",
            by=coordinator,
        )
    assert set(error.value.message_dict) == {"il6_reported_missing"}


@pytest.mark.parametrize(
    "change",
    [
        {"score_mm_missing": "ND"},  # a value and a reason
        {"score_mm": None},  # neither, for a required item
        {"score_mm": None, "score_mm_missing": "XX"},  # not a reason code
    ],
)
def test_the_database_holds_the_same_rule_whatever_the_write_path(vas, change):
    with pytest.raises(IntegrityError), transaction.atomic():
        VasPain.objects.filter(pk=vas.pk).update(**change)
    VasPain.objects.filter(pk=vas.pk).update(score_mm=None, score_mm_missing="UNK")


def test_every_reason_of_every_registered_form_is_offered_after_its_item_and_checked():
    found = 0
    for definition in registry.forms():
        reasons = missing_reasons(definition.model)
        for name, reason in reasons.items():
            found += 1
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM pg_constraint WHERE conname = %s",
                    [f"{definition.table}_{reason.name}"[:63]],
                )
                assert cursor.fetchone(), f"{definition.name}.{reason.name} has no CHECK"
            assert reason.name in {item.name for item in definition.items()}
            if definition.form is not None:
                form = definition.form()
                names = [b.name for _, bounds in form.sections() for b in bounds]
                assert names[names.index(name) + 1] == reason.name, definition.name
    assert found >= 11  # VAS pain, six X-ray readings, four biomarkers


def test_the_page_keeps_a_reason_apart_from_a_blank_and_says_what_is_wrong(
    client, coordinator, visit
):
    client.force_login(coordinator)
    url = helpers.vas_url(visit)
    page = client.get(url).content.decode()
    names = re.findall(r'name="([a-z_0-9]+)"', page[page.index('class="crf-form"') :])
    assert names[names.index("score_mm") + 1] == "score_mm_missing"
    assert '<option value="" selected>—</option>' in page

    blank = client.post(url, helpers.vas_post(score_mm="", mark_complete="on"))
    assert blank.status_code == 400
    assert blank.context["form"].errors["score_mm"] == [
        "Enter VAS pain (mm), or choose why it is missing."
    ]

    saved = client.post(url, helpers.vas_post(score_mm="", score_mm_missing="ND"))
    assert saved.status_code == 302
    stored = VasPain.objects.get(visit=visit)
    assert (stored.score_mm, stored.score_mm_missing) == (None, "ND")
    assert '<option value="ND" selected>Not done</option>' in client.get(url).content.decode()

    both = client.post(url, helpers.vas_post(version=1, score_mm="35", score_mm_missing="ND"))
    assert both.status_code == 400
    form = both.context["form"]
    assert form.errors["score_mm_missing"] == [
        "VAS pain (mm) has a value: leave the reason empty, or clear the value."
    ]
    assert form["score_mm"].value() == "35"  # what was typed stays
    assert VasPain.objects.get(visit=visit).score_mm_missing == "ND"


def test_the_participant_outcomes_page_says_why_a_score_is_missing(
    client, coordinator, investigator, arm_a
):
    save_vas(
        Visit.objects.get(participant=arm_a, code="M0"),
        coordinator,
        score_mm=None,
        score_mm_missing="UNK",
    )
    client.force_login(investigator)
    page = client.get(reverse("participant_outcomes", args=[arm_a.pk])).content.decode()
    assert re.search(r"<th scope=\"row\">M0</th>\s*<td[^>]*><span[^>]*>Unknown</span>", page)


def test_pdfs_print_the_reason_in_the_items_place_and_the_blank_form_asks_it(
    coordinator, monitor, arm_a, django_capture_on_commit_callbacks
):
    visit = Visit.objects.get(participant=arm_a, code="M0")
    save_vas(visit, coordinator, score_mm=None, score_mm_missing="ND")
    document = helpers.make_document(
        "visit_crfs", {"visit": visit.pk}, monitor, django_capture_on_commit_callbacks
    )
    assert document.status == "ready", document.error
    text = " ".join(helpers.pdf_text(document).split())
    assert "VAS pain (mm) Not done (ND)" in text
    assert "reason missing" not in text

    blank = helpers.make_document(
        "blank_crf", {"form": "vas_pain"}, coordinator, django_capture_on_commit_callbacks
    )
    text = " ".join(helpers.pdf_text(blank).split())
    assert "VAS pain (mm): reason missing" in text and "score_mm_missing" in text
    assert all(f"☐ {label} [{code}]" in text for code, label in MissingReason.choices)


def test_the_code_reaches_the_csv_export_the_dictionary_and_odm(
    tmp_path, coordinator, arm_a, settings
):
    m0 = Visit.objects.get(participant=arm_a, code="M0")
    save_vas(m0, coordinator, score_mm=None, score_mm_missing="ND")
    xray = save_crf(
        crf_class=Xray,
        visit=m0,
        data=helpers.xray_answers(
            coordinator, jsw_medial_right_mm=None, jsw_medial_right_mm_missing="UNK"
        ),
        version=0,
        complete=True,
        by=coordinator,
    )
    assert xray.jsw_lateral_right_mm == Decimal("5.10")
    exports.export_csv(tmp_path)

    def read(name):
        with (tmp_path / name).open(encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    (vas,) = read("vas_pain.csv")
    assert (vas["score_mm"], vas["score_mm_missing"], vas["score_mm_missing_label"]) == (
        "",
        "ND",
        "Not done",
    )
    (row,) = read("xray.csv")
    assert (row["jsw_medial_right_mm"], row["jsw_medial_right_mm_missing"]) == ("", "UNK")
    assert row["jsw_lateral_right_mm_missing"] == ""  # a value: no reason, a blank cell
    dictionary = {(d["file"], d["column"]): d for d in read("data_dictionary.csv")}
    entry = dictionary[("vas_pain.csv", "score_mm_missing")]
    assert entry["label"] == "VAS pain (mm): reason missing"
    assert entry["codes"] == "ND=Not done; UNK=Unknown; NA=Not applicable"
    visits = {r["visit"]: r for r in read("analysis_visits.csv") if r["participant_id"]}
    assert (visits["M0"]["vas_pain_mm"], visits["M0"]["vas_pain_missing"]) == ("", "ND")
    assert ("analysis_visits.csv", "vas_pain_missing") in dictionary

    out = odm.write_odm(tmp_path / "study.xml")
    schema = etree.XMLSchema(etree.parse(str(settings.ODM_SCHEMA_DIR / "ODM1-3-2.xsd")))
    document = etree.parse(str(out))
    assert schema.validate(document), schema.error_log
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
    (item_def,) = document.xpath(
        "//odm:ItemDef[@OID='IT.VAS_PAIN.SCORE_MM_MISSING']", namespaces=ns
    )
    (code_list,) = document.xpath(
        "//odm:CodeList[@OID=$oid]",
        oid=item_def.find("odm:CodeListRef", ns).get("CodeListOID"),
        namespaces=ns,
    )
    assert [i.get("CodedValue") for i in code_list.findall("odm:CodeListItem", ns)] == CODES
    (form,) = document.xpath("//odm:FormData[@FormOID='F.VAS_PAIN']", namespaces=ns)
    values = {i.get("ItemOID"): i.get("Value") for i in form.iterfind(".//odm:ItemData", ns)}
    assert values["IT.VAS_PAIN.SCORE_MM_MISSING"] == "ND"
    assert "IT.VAS_PAIN.SCORE_MM" not in values  # no value: no ItemData, the code says why
