"""The API's visits (visits/api.py): when each visit's row was last written, and those written
since a time."""

import pytest
from django.utils import timezone

from tests import factories, helpers
from tests.helpers import api_get, api_token
from visits import services

pytestmark = pytest.mark.django_db


def test_visits_modified_since_a_time_are_those_written_since(coordinator, lahore):
    participant = factories.participant_with_visits(site=lahore, by=coordinator)
    between = timezone.now()
    m0 = helpers.visit(participant, "M0")
    services.record_visit(visit=m0, visit_date=m0.target_date, by=coordinator)
    secret = api_token(coordinator)

    every = api_get("/visits", secret).json()["items"]
    assert len(every) > 1 and all(v["modified_at"] for v in every)
    since = api_get("/visits", secret, modified_since=between.isoformat()).json()["items"]
    assert [(v["visit"], v["visit_date"]) for v in since] == [("M0", m0.target_date.isoformat())]
    written = timezone.datetime.fromisoformat(since[0]["modified_at"])
    assert written >= between
