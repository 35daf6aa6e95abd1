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

from monitoring import documents
from monitoring.models import Document, ExportLog
from tests import factories
from tests.helpers import api_get, api_post, api_token
from trialsite import roles
from trialsite.accounts.models import ApiToken

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
    # A document that is not an export (a casebook) is not one of the API's exports.
    assert api_get("/exports/999999", api_token(monitor)).status_code == 404
