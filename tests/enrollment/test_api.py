"""The API's participants (enrollment/api.py): when each participant's row was last written,
and those written since a time."""

import pytest
from django.utils import timezone

from tests import factories
from tests.helpers import api_get, api_token

pytestmark = pytest.mark.django_db


def test_participants_modified_since_a_time_are_those_written_since(coordinator, lahore):
    earlier = factories.participant_with_visits(site=lahore, by=coordinator)
    between = timezone.now()
    later = factories.participant_with_visits(site=lahore, by=coordinator)
    secret = api_token(coordinator)

    every = {p["participant_id"]: p for p in api_get("/participants", secret).json()["items"]}
    assert set(every) == {earlier.participant_id, later.participant_id}
    first_written = timezone.datetime.fromisoformat(every[earlier.participant_id]["modified_at"])
    assert first_written < between

    since = api_get("/participants", secret, modified_since=between.isoformat()).json()["items"]
    assert [p["participant_id"] for p in since] == [later.participant_id]
    # A time without a zone is the site's (Lahore, UTC+5), as on the pages.
    here = timezone.localtime(between, lahore.zone).replace(tzinfo=None).isoformat()
    assert api_get("/participants", secret, modified_since=here).json()["items"] == since


def test_a_time_in_any_zone_or_out_of_range_is_answered_not_a_server_error(coordinator):
    secret = api_token(coordinator)
    far = api_get("/participants", secret, modified_since="7138-04-05T17:27:10+17:15")
    assert far.status_code == 200 and far.json()["items"] == []
    edge = api_get("/participants", secret, modified_since="0001-01-01T00:10:00")
    assert edge.status_code == 400 and edge.json()["detail"] == "This time is out of range."
