"""CSV exports (one file per CRF with codes and labels, a data dictionary) and the ODM export,
each with a log entry."""

import csv

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from lxml import etree

from monitoring import odm, signatures
from monitoring.models import ExportLog
from outcomes.models import VasPain
from tests import factories, helpers
from tests.helpers import change_vas
from trialsite.crf import registry
from trialsite.crf.services import save_crf
from visits.models import Visit

pytestmark = pytest.mark.django_db


def read(path):
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_export_csv_writes_every_crf_and_the_dictionary(tmp_path, vas, capsys):
    call_command("export_csv", "--out", str(tmp_path))
    files = {p.name for p in tmp_path.iterdir()}
    analysis = {"analysis_visits.csv", "analysis_participants.csv"}
    assert files == {f"{f.name}.csv" for f in registry.forms()} | analysis | {"data_dictionary.csv"}
    (row,) = read(tmp_path / "vas_pain.csv")
    assert row["participant_id"] == vas.participant.participant_id
    assert (row["visit"], row["status"], row["version"]) == ("M1", "complete", "1")
    assert (row["score_mm"], row["knee"], row["knee_label"]) == ("40", "R", "Right")
    assert read(tmp_path / "womac.csv") == []
    dictionary = read(tmp_path / "data_dictionary.csv")
    knee = next(d for d in dictionary if d["file"] == "vas_pain.csv" and d["column"] == "knee")
    assert knee["codes"] == "L=Left; R=Right" and knee["required"] == "Y"
    assert any(d["file"] == "womac.csv" and d["column"] == "p1" for d in dictionary)
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


def test_the_odm_export_reads_participants_in_chunks_each_with_its_own_data(
    tmp_path, arm_a, arm_b, coordinator, monkeypatch
):
    for participant, score in ((arm_a, 21), (arm_b, 67)):
        vas = save_crf(
            crf_class=VasPain,
            visit=Visit.objects.get(participant=participant, code="M0"),
            data=helpers.vas_answers(score_mm=score),
            version=0,
            complete=True,
            by=coordinator,
        )
    change_vas(vas, coordinator, score=68)  # arm B's: its latest audit row has the reason

    def written(chunk: int) -> tuple[etree._ElementTree, int]:
        monkeypatch.setattr(odm, "CHUNK", chunk)
        out = tmp_path / f"study-{chunk}.xml"
        with CaptureQueriesContext(connection) as queries:
            odm.write_odm(out)
        return etree.parse(str(out)), len(queries)

    one_at_a_time, queries_one = written(1)
    both_at_once, queries_both = written(200)
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
    for document in (one_at_a_time, both_at_once):
        subjects = {
            s.get("SubjectKey"): s for s in document.xpath("//odm:SubjectData", namespaces=ns)
        }
        assert set(subjects) == {arm_a.participant_id, arm_b.participant_id}

        def score(key, subjects=subjects):
            path = ".//odm:ItemData[@ItemOID='IT.VAS_PAIN.SCORE_MM']/@Value"
            return subjects[key].xpath(path, namespaces=ns)

        assert score(arm_a.participant_id) == ["21"] and score(arm_b.participant_id) == ["68"]
        reasons = "odm:AuditRecord/odm:ReasonForChange/text()"
        forms = {
            key: subject.xpath(f".//odm:FormData[@FormOID='F.VAS_PAIN']/{reasons}", namespaces=ns)
            for key, subject in subjects.items()
        }
        assert forms == {arm_a.participant_id: [], arm_b.participant_id: ["correction"]}
    # The queries grow with the chunks, not with the participants in a chunk.
    assert queries_both < queries_one
