"""CSV exports: one file per CRF with codes and labels, a data dictionary, and a log entry."""

import csv

import pytest
from django.core.management import call_command
from lxml import etree

from monitoring import signatures
from monitoring.models import ExportLog
from tests import factories
from tests.test_locks import change_vas
from trialsite.crfs import CRF_PAGES

pytestmark = pytest.mark.django_db


def read(path):
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_export_csv_writes_every_crf_and_the_dictionary(tmp_path, vas, capsys):
    call_command("export_csv", "--out", str(tmp_path))
    files = {p.name for p in tmp_path.iterdir()}
    assert files == {f"{name}.csv" for name in CRF_PAGES} | {"data_dictionary.csv"}
    (row,) = read(tmp_path / "vas_pain.csv")
    assert row["participant_id"] == vas.participant.participant_id
    assert (row["visit"], row["status"], row["version"]) == ("M1", "complete", "1")
    assert (row["score_mm"], row["knee"], row["knee_label"]) == ("40", "R", "Right")
    assert read(tmp_path / "womac.csv") == []
    dictionary = read(tmp_path / "data_dictionary.csv")
    knee = next(d for d in dictionary if d["form"] == "vas_pain" and d["column"] == "knee")
    assert knee["codes"] == "L=Left; R=Right" and knee["required"] == "Y"
    assert any(d["form"] == "womac" and d["column"] == "p1" for d in dictionary)
    log = ExportLog.objects.get()
    assert log.what.startswith("CSV export") and log.by_name.startswith("command line")


def test_the_odm_export_is_valid_against_the_official_xsd(
    tmp_path, vas, investigator, coordinator, settings
):
    change_vas(vas, coordinator)  # an audit record with a reason for change
    signatures.sign(
        participant=vas.participant, visit=vas.visit, password=factories.PASSWORD, by=investigator
    )
    out = tmp_path / "study.xml"
    call_command("export_odm", "--out", str(out))
    schema = etree.XMLSchema(etree.parse(str(settings.ODM_SCHEMA_DIR / "ODM1-3-2.xsd")))
    document = etree.parse(str(out))
    assert schema.validate(document), schema.error_log
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
    value = document.xpath("//odm:ItemData[@ItemOID='IT.VAS_PAIN.SCORE_MM']/@Value", namespaces=ns)
    assert value == ["55"]
    assert document.xpath(
        "//odm:FormData/odm:AuditRecord/odm:ReasonForChange/text()", namespaces=ns
    ) == ["correction"]
    assert document.xpath(
        "//odm:StudyEventData/odm:Signature/odm:SignatureRef/@SignatureOID", namespaces=ns
    ) == ["SD.REVIEW"]
    assert ExportLog.objects.filter(what__startswith="ODM").exists()
