"""Source data verification: a later change clears the mark and lists the CRF to re-verify."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from monitoring import verification
from monitoring.models import SourceVerification
from tests.helpers import change_vas
from tests.helpers import vas_url as url

pytestmark = pytest.mark.django_db


def test_a_monitor_verifies_and_a_later_change_clears_the_mark(client, monitor, coordinator, vas):
    client.force_login(monitor)
    page = url(vas.visit)
    response = client.post(reverse("verify_record", args=["vas-pain", vas.pk]), {"next": page})
    assert response["Location"] == page
    assert "Source-verified</span> by Monitor Tester" in client.get(page).content.decode()
    assert client.get(reverse("reverify_list")).context["rows"] == []

    change_vas(vas, coordinator, score=57)
    html = client.get(page).content.decode()
    assert "Changed since source verification" in html
    rows = client.get(reverse("reverify_list")).context["rows"]
    assert [(r.record.pk, r.verified_version, r.record.version) for r in rows] == [(vas.pk, 1, 2)]
    assert rows[0].url == page and rows[0].where == "M1"

    client.post(reverse("verify_record", args=["vas-pain", vas.pk]))
    assert client.get(reverse("reverify_list")).context["rows"] == []
    assert SourceVerification.objects.count() == 2  # the history is kept


@pytest.mark.parametrize("persona", ["coordinator", "investigator", "data_manager"])
def test_only_monitors_verify(request, client, persona, vas):
    user = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        verification.verify_crf(crf=vas, by=user)
    client.force_login(user)
    assert client.post(reverse("verify_record", args=["vas-pain", vas.pk])).status_code == 403


def test_other_sites_and_unregistered_records_cannot_be_verified(client, monitor, outsider, vas):
    outsider.user_permissions.add(*monitor.groups.get().permissions.all())
    client.force_login(outsider)
    assert client.post(reverse("verify_record", args=["vas-pain", vas.pk])).status_code == 404
    client.force_login(monitor)
    assert client.post(reverse("verify_record", args=["lock", 1])).status_code == 404


def test_a_coordinator_sees_the_mark_but_no_button(client, monitor, coordinator, vas):
    verification.verify_crf(crf=vas, by=monitor)
    client.force_login(coordinator)
    html = client.get(url(vas.visit)).content.decode()
    assert "Source-verified" in html and "Mark source-verified" not in html
