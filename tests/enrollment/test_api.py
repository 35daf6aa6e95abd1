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
