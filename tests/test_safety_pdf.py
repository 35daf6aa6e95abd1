"""The AE listing PDF: WeasyPrint in a real Celery worker, progress, download, failure, retry."""

import hashlib
import subprocess

import pytest
from django.urls import reverse

from safety import services
from safety.models import AeListingPdf
from tests import factories
from tests.test_safety import ae_answers, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def events(lahore, coordinator):
    participant = factories.participant_with_visits(site=lahore, arm="A", by=coordinator)
    for term in ("Knee effusion", "Headache", "Injection-site pain"):
        services.report_adverse_event(
            participant=participant, data=ae_answers(verbatim_term=term), by=coordinator
        )
    return participant


def pdf_text(path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_the_listing_pdf_renders_in_the_background_and_downloads(
    worker,
    client,
    monitor,
    events,  # noqa: F811
):
    client.force_login(monitor)
    response = client.post(reverse("ae_listing_pdf"), {"related": "yes", "sort": "onset"})
    pdf = AeListingPdf.objects.get()
    assert response["Location"] == reverse("ae_listing_pdf_status", args=[pdf.pk])
    assert wait_for(lambda: AeListingPdf.objects.get().status == "ready", seconds=60)
    status = client.get(reverse("ae_listing_pdf_status", args=[pdf.pk]), HTTP_HX_REQUEST="true")
    assert "Download PDF" in status.content.decode()
    download = client.get(reverse("ae_listing_pdf_download", args=[pdf.pk]))
    content = b"".join(download.streaming_content)
    assert content.startswith(b"%PDF")
    pdf.refresh_from_db()
    assert hashlib.sha256(content).hexdigest() == pdf.sha256
    text = pdf_text(pdf.file.path)
    assert "Adverse event listing" in text
    assert text.index("Knee effusion") < text.index("Headache") < text.index("Injection-site pain")
    assert "Page 1 of 1" in text and events.participant_id in text


def test_a_failed_render_says_so_and_can_be_retried(client, monitor, events, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(services, "render_pdf", broken)
    pdf = AeListingPdf.objects.create(requested_by=monitor, filters={})
    with pytest.raises(RuntimeError):
        services.render_ae_listing(pdf.pk)
    pdf.refresh_from_db()
    assert pdf.status == "failed" and "renderer crashed" in pdf.error
    client.force_login(monitor)
    page = client.get(reverse("ae_listing_pdf_status", args=[pdf.pk])).content.decode()
    assert "could not be rendered" in page and "Try again" in page
    monkeypatch.undo()
    client.post(reverse("ae_listing_pdf_status", args=[pdf.pk]))
    pdf.refresh_from_db()
    assert pdf.status == "queued"
    assert services.render_ae_listing(pdf.pk).status == "ready"


def test_only_the_requester_sees_the_pdf(client, monitor, investigator, events):
    pdf = AeListingPdf.objects.create(requested_by=monitor, filters={})
    client.force_login(investigator)
    assert client.get(reverse("ae_listing_pdf_status", args=[pdf.pk])).status_code == 404
    assert client.get(reverse("ae_listing_pdf_download", args=[pdf.pk])).status_code == 404
