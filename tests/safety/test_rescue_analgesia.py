"""Rescue analgesia (a per-visit form at each follow-up visit): tablets per week since the last
visit, or the reason it is missing; more than the usual maximum asks for confirmation and opens
a query; beyond the limit a value is refused."""

import pytest
from django.urls import reverse

from monitoring.models import DataQuery
from safety.models import RescueAnalgesia
from tests.helpers import form_url
from trialsite import protocol
from trialsite.crf import registry
from visits.models import Visit

pytestmark = pytest.mark.django_db

USUAL, LIMIT = protocol.RESCUE_TABLETS_PER_WEEK_USUAL_MAX, protocol.RESCUE_TABLETS_PER_WEEK_LIMIT


def url(participant, code="M1"):
    return form_url("rescue_analgesia", visit=Visit.objects.get(participant=participant, code=code))


def post(**answers):
    return {"version": 0, "mark_complete": "on", "confirm_unusual": "on", **answers}


def test_it_is_collected_at_each_follow_up_visit_of_the_protocol(arm_a):
    definition = registry.get("rescue_analgesia")
    due = [v.code for v in arm_a.visits.order_by("target_date") if definition.due_at(v)]
    assert due == ["M1", "M3", "M6", "M9", "M12"]


@pytest.mark.parametrize(
    ("typed", "stored", "message"),
    [
        ("0", 0, None),  # none taken is an answer, not a blank
        (str(USUAL), USUAL, None),
        (str(LIMIT), LIMIT, None),  # confirmed (above the usual maximum)
        (str(LIMIT + 1), None, f"less than or equal to {LIMIT}"),
        ("-1", None, "greater than or equal to 0"),
        ("3.5", None, "whole number"),
        ("", None, "or choose why it is missing"),
    ],
)
def test_tablets_per_week_at_and_beyond_its_limits(
    client, coordinator, arm_a, typed, stored, message
):
    client.force_login(coordinator)
    response = client.post(url(arm_a), post(tablets_per_week=typed))
    if message is None:
        assert response.status_code == 302
        assert RescueAnalgesia.objects.get(participant=arm_a).tablets_per_week == stored
    else:
        assert response.status_code == 400
        assert message in " ".join(response.context["form"].errors["tablets_per_week"])
        assert not RescueAnalgesia.objects.exists()


def test_not_done_is_stored_as_its_code(client, coordinator, arm_a):
    client.force_login(coordinator)
    response = client.post(url(arm_a), post(tablets_per_week="", tablets_per_week_missing="UNK"))
    assert response.status_code == 302
    saved = RescueAnalgesia.objects.get(participant=arm_a)
    assert (saved.tablets_per_week, saved.tablets_per_week_missing) == (None, "UNK")
    assert saved.analgesic == protocol.RESCUE_ANALGESIC


def test_more_than_the_usual_maximum_asks_first_then_opens_a_query(client, coordinator, arm_a):
    client.force_login(coordinator)
    answers = {"version": 0, "mark_complete": "on", "tablets_per_week": str(USUAL + 1)}
    first = client.post(url(arm_a), answers)
    assert first.status_code == 400 and "check with the participant" in str(
        first.context["form"].errors["tablets_per_week"]
    )
    # The month-1 window opens in a month: confirming covers that too.
    confirmed = client.post(url(arm_a), {**answers, "confirm_unusual": "on"})
    assert confirmed.status_code == 302
    query = DataQuery.objects.get(field="tablets_per_week")
    assert query.automatic and query.state == "open"
    page = client.get(reverse("participant_detail", args=[arm_a.pk])).content.decode()
    assert "Rescue analgesia" in page
