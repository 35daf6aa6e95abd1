"""Documents kept in S3-compatible object storage (DOCUMENT_STORAGE=s3, django-storages), so
that several web and worker machines share them: a worker process renders into the bucket of
an endpoint started by the test, the web process serves the file from it, backups read it."""

import hashlib

import pytest
from django.urls import reverse

from monitoring import backup, documents
from monitoring.models import Document
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_renders_into_the_bucket_and_the_web_serves_it_from_there(
    s3_documents, worker_processes, client, monitor, study, tmp_path, settings, database_urls
):
    settings.MEDIA_ROOT = tmp_path / "media-unused"
    worker_processes(**s3_documents.env)  # another "machine": shares only the bucket
    document = documents.request_document(
        kind="casebook", data={"participant": study["A"].pk}, by=monitor
    )
    assert wait_for(lambda: Document.objects.get(pk=document.pk).status == "ready", 180)
    document.refresh_from_db()

    stored = s3_documents.client.get_object(Bucket=s3_documents.bucket, Key=document.file.name)
    body = stored["Body"].read()
    assert body.startswith(b"%PDF") and hashlib.sha256(body).hexdigest() == document.sha256
    assert not settings.MEDIA_ROOT.exists()  # nothing on this machine's disk

    client.force_login(monitor)
    response = client.get(reverse("document_download", args=[document.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == body

    # A backup reads documents through the same storage.
    path = backup.back_up(tmp_path / "backups", url=database_urls["owner"])
    listed = backup.read_manifest(path)["documents"][document.file.name]
    assert listed["sha256"] == document.sha256
