"""HTML is sent compressed (Django's GZipMiddleware, with its BREACH padding)."""

import gzip

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_pages_are_gzipped_for_browsers_that_accept_it(client, coordinator, participant):
    client.force_login(coordinator)
    url = reverse("participant_list")
    plain = client.get(url)
    assert "Content-Encoding" not in plain
    packed = client.get(url, headers={"accept-encoding": "gzip, deflate, br"})
    assert packed["Content-Encoding"] == "gzip"
    html = gzip.decompress(packed.content).decode()
    assert participant.participant_id in html and "</html>" in html
    assert len(packed.content) < len(plain.content) / 2
    # The random padding against BREACH: the same page never compresses to the same bytes.
    again = client.get(url, headers={"accept-encoding": "gzip"})
    assert again.content != packed.content
