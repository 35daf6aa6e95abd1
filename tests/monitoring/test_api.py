"""The API's exports (monitoring/api.py): started by a program, made in the background as on
the export page, their progress read back, and the file returned with its SHA-256, to its
requester only, logged, and with the arm only for users who may see it."""

import base64
import csv
import hashlib
import io
import re
import zipfile

import pytest
from django.test import Client
from django.utils import timezone

from enrollment.models import EndOfStudy
from monitoring import documents, queries
from monitoring.models import Document, ExportLog
from safety.models import AdverseEvent
from tests import factories
from tests.helpers import (
    add_vas,
    ae_post,
    api_data,
    api_get,
    api_post,
    api_token,
    as_post,
    earlier_today,
    end_of_study_answers,
)
from trialsite import roles
from trialsite.accounts.models import ApiToken
from trialsite.audit.models import AuditEvent
from trialsite.outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db


def file_of(path: str, secret: str):
    response = Client().get(f"/api/v1{path}", HTTP_AUTHORIZATION=f"Bearer {secret}")
    return response, b"".join(response.streaming_content) if response.status_code == 200 else b""


def test_a_read_only_token_starts_an_export_follows_it_and_gets_its_file_with_its_checksum(
    coordinator, monitor, lahore
):
    factories.participant_with_visits(site=lahore, by=coordinator, arm="B")
    secret = api_token(monitor)  # read-only: an export changes no study data
    started = api_post("/exports", secret, {"file": "analysis_participants"})
    assert started.status_code == 202, started.content
    export = started.json()
    assert (export["status"], export["file"], export["download"]) == (
        "queued",
        "analysis_participants",
        None,
    )
    document = Document.objects.get(pk=export["id"])
    assert (document.kind, document.params, document.requested_by) == (
        Document.Kind.ANALYSIS,
        {"name": "analysis_participants"},
        monitor,
    )
    waiting, _ = file_of(f"/exports/{export['id']}/file", secret)
    assert waiting.status_code == 409 and "Not ready" in waiting.json()["detail"]
    # Asked again while it is queued: the same export, not a second one.
    assert (
        api_post("/exports", secret, {"file": "analysis_participants"}).json()["id"] == export["id"]
    )

    documents.render_document(document.pk)  # as the Celery worker does
    ready = api_get(f"/exports/{export['id']}", secret).json()
    assert ready["status"] == "ready" and ready["stale"] is False
    response, content = file_of(ready["download"].removeprefix("/api/v1"), secret)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert hashlib.sha256(content).hexdigest() == ready["sha256"]
    digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
    assert response["Content-Digest"] == f"sha-256=:{digest}:"
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert [row["arm"] for row in rows] == ["B"]
    assert ExportLog.objects.filter(document=document, user=monitor, what__startswith="Downloaded")

    listed = api_get("/exports", secret).json()["items"]
    assert [e["id"] for e in listed] == [export["id"]]


def test_csv_and_odm_exports_are_files_of_their_kind_without_the_arm_for_the_blinded(
    coordinator, monitor, lahore
):
    factories.participant_with_visits(site=lahore, by=coordinator, arm="B")
    blinded = factories.UserFactory(role=roles.MONITOR, sites=[lahore], is_blinded_assessor=True)
    made = {}
    for user in (monitor, blinded):
        secret = api_token(user)
        for asked in ("csv", "odm"):
            export = api_post("/exports", secret, {"file": asked}).json()
            documents.render_document(export["id"])
            made[user, asked] = file_of(f"/exports/{export['id']}/file", secret)
    for user in (monitor, blinded):
        (zipped, archive), (xml, odm) = made[user, "csv"], made[user, "odm"]
        assert zipped["Content-Type"] == "application/zip"
        assert xml["Content-Type"] == "application/xml" and odm.startswith(b"<?xml")
        files = zipfile.ZipFile(io.BytesIO(archive))
        assert {"analysis_visits.csv", "data_dictionary.csv"} <= set(files.namelist())
        header = next(csv.reader(io.StringIO(files.read("analysis_participants.csv").decode())))
        sees = user.sees_arm
        assert ("arm" in header, "prgf_preparation.csv" in files.namelist()) == (sees, sees)
        assert bool(re.search(rb"(?<!\w)ARM(?!\w)", odm)) == sees


def test_exports_are_for_roles_that_export_and_only_their_requester_reads_them(
    coordinator, monitor, data_manager, lahore
):
    assert api_post("/exports", api_token(coordinator), {"file": "csv"}).status_code == 403
    assert api_post("/exports", api_token(monitor), {"file": "everything"}).status_code == 422
    export = api_post("/exports", api_token(monitor), {"file": "odm"}).json()
    other = api_token(data_manager, scope=ApiToken.Scope.READ_WRITE)
    assert api_get(f"/exports/{export['id']}", other).status_code == 404
    assert file_of(f"/exports/{export['id']}/file", other)[0].status_code == 404
    assert api_get("/exports", other).json()["items"] == []
    # A document of theirs that is not an export (a blank CRF) is not one of the API's exports.
    blank = documents.request_document(kind="blank_crf", data={"form": "womac"}, by=monitor)
    assert api_get(f"/exports/{blank.pk}", api_token(monitor)).status_code == 404
    assert api_get("/exports/999999", api_token(monitor)).status_code == 404


def test_a_log_entry_is_added_and_changed_through_the_api_with_the_services_own_effects(
    coordinator, arm_a
):
    secret = api_token(coordinator, scope=ApiToken.Scope.READ_WRITE)
    who = {"participant_id": arm_a.participant_id}
    first = api_post("/forms/adverse-event/records", secret, {**who, "data": api_data(ae_post())})
    assert first.status_code == 200, first.content
    assert (first.json()["number"], first.json()["verbatim_term"]) == (1, "Knee swelling")
    aware = f"{earlier_today(hours=2):%Y-%m-%dT%H:%M}"
    serious = ae_post(serious="yes", hospitalisation="on", grade="3", awareness_at=aware)
    second = api_post("/forms/adverse-event/records", secret, {**who, "data": api_data(serious)})
    assert second.status_code == 200, second.content
    sae = AdverseEvent.objects.get(participant=arm_a, number=2)
    assert sae.serious and sae.created_by == coordinator
    # The service's own effect: the investigators' SAE notice, queued with the event.
    assert OutboxMessage.objects.filter(task="safety.tasks.notify_sae", args=[sae.pk]).exists()

    changed = {**who, "number": 1, "version": 1, "data": api_data(ae_post(grade="2"))}
    no_reason = api_post("/forms/adverse-event/records", secret, changed)
    assert no_reason.status_code == 400 and "reason_for_change" in no_reason.json()["errors"]
    saved = api_post(
        "/forms/adverse-event/records", secret, {**changed, "reason_for_change": "worse"}
    )
    assert saved.status_code == 200 and saved.json()["grade"] == 2
    ae = AdverseEvent.objects.get(participant=arm_a, number=1)
    row = AuditEvent.objects.filter(table_name="safety_adverseevent", row_pk=str(ae.pk)).latest(
        "id"
    )
    assert (row.username, row.reason, "grade" in row.changed_fields) == (
        coordinator.username,
        "worse",
        True,
    )
    # Sent again unchanged: nothing saved, as on the page (no new version, no audit row).
    again = {**changed, "version": 2, "reason_for_change": "again"}
    unchanged = api_post("/forms/adverse-event/records", secret, again)
    assert unchanged.status_code == 200 and unchanged.json()["version"] == 2
    assert AuditEvent.objects.filter(table_name=ae._meta.db_table).latest("id") == row
    none = api_post("/forms/adverse-event/records", secret, {**changed, "number": 9})
    assert none.status_code == 404
    read_only = api_post("/forms/adverse-event/records", api_token(coordinator), changed)
    assert read_only.status_code == 403


def test_the_participants_own_form_is_saved_through_the_api_and_a_visit_form_needs_its_visit(
    coordinator, arm_a
):
    secret = api_token(coordinator, scope=ApiToken.Scope.READ_WRITE)
    who = {"participant_id": arm_a.participant_id}
    ended = api_data(as_post(end_of_study_answers()))
    saved = api_post("/forms/end-of-study/records", secret, {**who, "data": ended})
    assert saved.status_code == 200, saved.content
    assert EndOfStudy.objects.get(participant=arm_a).reason == "lost_to_follow_up"
    at_visit = api_post(
        "/forms/end-of-study/records", secret, {**who, "visit": "M0", "data": ended}
    )
    assert at_visit.status_code == 404 and "not entered at a visit" in at_visit.json()["detail"]
    no_visit = api_post("/forms/vas-pain/records", secret, {**who, "data": {"score_mm": 3}})
    assert no_visit.status_code == 404 and "entered at a visit" in no_visit.json()["detail"]
    stranger = api_post("/forms/vas-pain/records", secret, {"participant_id": "X-1", "data": {}})
    assert stranger.status_code == 404


def test_queries_modified_since_a_time_are_those_opened_or_changed_since(
    coordinator, monitor, arm_a
):
    vas = add_vas(arm_a, "M0", 40, coordinator)
    older = queries.raise_query(crf=vas, field="score_mm", question="Ruler?", by=monitor)
    untouched = queries.raise_query(crf=vas, field="knee", question="Which knee?", by=monitor)
    between = timezone.now()
    queries.answer_query(query=older, text="Checked: 40 mm.", by=coordinator)
    secret = api_token(monitor)
    since = api_get("/queries", secret, modified_since=between.isoformat()).json()["items"]
    assert [(q["id"], q["state"]) for q in since] == [(older.pk, "answered")]
    every = api_get("/queries", secret).json()["items"]
    assert {q["id"] for q in every} == {older.pk, untouched.pk}
