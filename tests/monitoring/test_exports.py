"""CSV exports (a file per registered form with codes and labels, two analysis files and a
data dictionary of every column) and the ODM export of every form, each with a log entry."""

import csv
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from enrollment import services as enrollment_services
from monitoring import exports, odm, signatures
from monitoring.models import ExportLog
from outcomes import selectors
from outcomes.models import VasPain
from safety import services as safety_services
from tests import factories, helpers
from tests.helpers import change_vas
from trialsite import protocol
from trialsite.audit import chain
from trialsite.crf import registry
from trialsite.crf.services import save_crf
from visits import services as visit_services
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
    # The audit chain head, so that two copies can be compared (every row sealed first).
    head = chain.head()
    assert head.position > 0 and chain.verify().ok
    assert document.getroot().get("Description").endswith(f"Audit chain head {head}")


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


# --- Complete datasets ---------------------------------------------------------------------------
def export(tmp_path, user=None) -> dict[str, list[dict]]:
    return {path.stem: read(path) for path in exports.export_csv(tmp_path, user=user)}


def header(path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return next(csv.reader(handle))


def test_every_form_and_both_analysis_files_are_exported_each_column_in_the_dictionary(
    tmp_path, study, coordinator
):
    helpers.end_study(study["A"], coordinator)
    files = export(tmp_path)
    analysis = {"analysis_visits", "analysis_participants"}
    assert set(files) == {f.name for f in registry.forms()} | analysis | {"data_dictionary"}
    described = {(d["file"], d["column"]) for d in files["data_dictionary"]}
    for name in set(files) - {"data_dictionary"}:
        columns = header(tmp_path / f"{name}.csv")
        assert columns and {(f"{name}.csv", c) for c in columns} <= described, name
        assert files[name], f"{name}.csv has no rows"


def test_screening_holds_the_decision_and_its_reasons_for_every_candidate(tmp_path, study):
    rows = {r["screening_number"]: r for r in export(tmp_path)["screening"]}
    failed = rows[study["failed"].screening_number]
    assert (failed["participant_id"], failed["eligible"], failed["failed_criteria"]) == (
        "",
        "N",
        "vas",
    )
    assert failed["ineligibility_reasons"] == "VAS pain 12 mm is below 20 mm."
    randomized = rows[study["A"].screening.screening_number]
    assert (randomized["participant_id"], randomized["eligible"]) == (
        study["A"].participant_id,
        "Y",
    )
    assert randomized["criteria_version"] == protocol.PROTOCOL_VERSION


def test_consent_withdrawal_randomization_and_visits_are_exported(tmp_path, study, coordinator):
    participant = study["B"]
    enrollment_services.withdraw_consent(
        consent=participant.screening.consent,
        withdrawn_on=timezone.localdate(),
        data_use_allowed=True,
        note="moved to another city",
        by=coordinator,
    )
    m1 = helpers.visit(participant, "M1")
    visit_services.record_visit(visit=m1, visit_date=timezone.localdate(), by=coordinator)
    files = export(tmp_path)

    consent = next(r for r in files["consent"] if r["participant_id"] == participant.participant_id)
    assert (consent["withdrawn_on"], consent["data_use_allowed"], consent["withdrawal_note"]) == (
        timezone.localdate().isoformat(),
        "Y",
        "moved to another city",
    )
    slot = participant.slot
    randomization = {r["participant_id"]: r for r in files["randomization"]}
    row = randomization[participant.participant_id]
    assert (row["arm"], row["slot_sequence"], row["slot_block_size"]) == (
        "B",
        str(slot.sequence),
        str(slot.block_size),
    )
    assert row["randomized_at"] == participant.randomized_at.isoformat()
    assert randomization[study["A"].participant_id]["arm"] == "A"

    visits = {(r["participant_id"], r["visit"]): r for r in files["visit"]}
    m0 = visits[(participant.participant_id, "M0")]
    stored = helpers.visit(participant, "M0")
    assert (m0["target_date"], m0["window_opens"], m0["visit_date"], m0["status"]) == (
        stored.target_date.isoformat(),
        stored.window_opens.isoformat(),
        stored.visit_date.isoformat(),
        "completed",
    )
    early = visits[(participant.participant_id, "M1")]
    m1.refresh_from_db()
    days = (m1.visit_date - m1.window_opens).days
    assert early["days_outside_window"] == str(days) and days < 0  # a number, not a formula
    assert visits[(participant.participant_id, "M3")]["status"] == "scheduled"


def test_every_adverse_event_is_exported(tmp_path, study, coordinator):
    safety_services.report_adverse_event(
        participant=study["A"],
        data=helpers.ae_answers(
            verbatim_term="Fever", **helpers.SERIOUS, awareness_at=timezone.now()
        ),
        by=coordinator,
    )
    rows = export(tmp_path)["adverse_event"]
    assert sorted((r["participant_id"], r["number"], r["verbatim_term"]) for r in rows) == [
        (study["A"].participant_id, "1", "Knee swelling"),
        (study["A"].participant_id, "2", "Fever"),
        (study["B"].participant_id, "1", "Knee swelling"),
    ]
    b = next(r for r in rows if r["participant_id"] == study["B"].participant_id)
    assert (b["relationship_prgf"], b["related"], b["serious"]) == ("possible", "Y", "N")


def test_the_visit_analysis_file_equals_the_outcome_rules(tmp_path, study):
    rows = export(tmp_path)["analysis_visits"]
    participant = study["A"]
    mine = {r["visit"]: r for r in rows if r["participant_id"] == participant.participant_id}
    assert list(mine) == [v.code for v in protocol.VISIT_SCHEDULE]
    assert mine["M0"]["arm"] == "A"
    expected = {r.visit_code: r for r in selectors.participant_outcomes(participant)}
    m1 = mine["M1"]
    assert (
        m1["vas_pain_mm"] == "30" and float(m1["vas_pain_change_mm"]) == expected["M1"].vas_change
    )
    for scale in ("pain", "stiffness", "function", "total"):
        assert float(m1[f"womac_{scale}"]) == expected["M1"].womac[scale]
        assert float(m1[f"womac_{scale}_change"]) == expected["M1"].womac_change[scale]
    assert float(m1["womac_pain_normalised_change"]) == -50.0
    assert m1["oarsi_responder"] == "Y" and expected["M1"].responder is True
    assert mine["M0"]["vas_pain_change_mm"] == "" and mine["M0"]["oarsi_responder"] == ""
    assert mine["M3"]["vas_pain_mm"] == ""


def test_the_participant_analysis_file_counts_events_and_tells_completion(
    tmp_path, study, coordinator
):
    safety_services.report_adverse_event(
        participant=study["A"],
        data=helpers.ae_answers(**helpers.SERIOUS, awareness_at=timezone.now()),
        by=coordinator,
    )
    enrollment_services.withdraw_consent(
        consent=study["B"].screening.consent,
        withdrawn_on=timezone.localdate(),
        data_use_allowed=False,
        note="",
        by=coordinator,
    )
    rows = {r["participant_id"]: r for r in export(tmp_path)["analysis_participants"]}
    a, b = rows[study["A"].participant_id], rows[study["B"].participant_id]
    screening = study["A"].screening
    assert (a["age_years"], a["sex"], a["bmi"]) == (
        str(screening.age_years),
        screening.sex,
        str(screening.bmi),
    )
    assert (a["adverse_events"], a["serious_adverse_events"]) == ("2", "1")
    assert a["first_injection_date"] == helpers.visit(study["A"], "M0").visit_date.isoformat()
    assert (a["completion_status"], b["completion_status"]) == ("ongoing", "withdrawn")
    assert b["withdrawal_date"] == timezone.localdate().isoformat()


def test_the_odm_export_holds_every_form_repeating_logs_and_candidates(
    tmp_path, study, coordinator, settings
):
    participant = study["A"]
    visit_services.add_unscheduled_visit(
        participant=participant, visit_date=timezone.localdate(), reason="flare", by=coordinator
    )
    ae = participant.adverse_events.get()
    safety_services.update_adverse_event(
        ae=ae, data={"grade": 2}, version=ae.version, reason="worse at follow-up", by=coordinator
    )
    helpers.add_deviation(participant, coordinator)
    helpers.end_study(participant, coordinator)
    out = odm.write_odm(tmp_path / "study.xml")
    schema = etree.XMLSchema(etree.parse(str(settings.ODM_SCHEMA_DIR / "ODM1-3-2.xsd")))
    document = etree.parse(str(out))
    assert schema.validate(document), schema.error_log
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
    subjects = {s.get("SubjectKey"): s for s in document.xpath("//odm:SubjectData", namespaces=ns)}
    assert set(subjects) == {
        study["A"].participant_id,
        study["B"].participant_id,
        study["failed"].screening_number,
    }
    subject = subjects[participant.participant_id]
    forms = subject.xpath(".//odm:FormData/@FormOID", namespaces=ns)
    assert {f.oid for f in registry.forms()} - {"F.PRGF_PREPARATION"} <= set(forms)
    (event,) = subject.xpath(".//odm:FormData[@FormOID='F.ADVERSE_EVENT']", namespaces=ns)
    assert event.get("FormRepeatKey") == "1"
    assert event.xpath("odm:AuditRecord/odm:ReasonForChange/text()", namespaces=ns) == [
        "worse at follow-up"
    ]
    assert event.xpath(
        ".//odm:ItemData[@ItemOID='IT.ADVERSE_EVENT.GRADE']/@Value", namespaces=ns
    ) == ["2"]
    unscheduled = subject.xpath(".//odm:StudyEventData[@StudyEventOID='SE.UNS']", namespaces=ns)
    assert [e.get("StudyEventRepeatKey") for e in unscheduled] == ["1"]
    candidate = subjects[study["failed"].screening_number]
    assert candidate.xpath(".//odm:FormData/@FormOID", namespaces=ns) == ["F.SCREENING"]
    assert candidate.xpath(
        ".//odm:ItemData[@ItemOID='IT.SCREENING.ELIGIBLE']/@Value", namespaces=ns
    ) == ["false"]


def test_a_formula_typed_into_a_form_reaches_no_csv_as_a_formula(
    tmp_path, client, study, coordinator, monitor
):
    formula = '=HYPERLINK("http://example.org","click")'
    safety_services.report_adverse_event(
        participant=study["A"], data=helpers.ae_answers(verbatim_term=formula), by=coordinator
    )
    exported = export(tmp_path)["adverse_event"]
    assert "'" + formula in {row["verbatim_term"] for row in exported}
    client.force_login(monitor)
    listing = client.get(reverse("ae_listing") + "?format=csv").content.decode()
    audit = client.get(
        reverse("participant_audit", args=[study["A"].pk]) + "?format=csv"
    ).content.decode()
    for text in (listing, audit):
        cells = {cell for row in csv.reader(io.StringIO(text)) for cell in row}
        assert "'" + formula in cells and formula not in cells
