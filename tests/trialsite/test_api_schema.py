"""Schemathesis on the API (trialsite/api.py), in process through the WSGI application, with a
token of each role and of a blinded user: every operation, inputs generated from its OpenAPI
schema; no server error, no response that breaks the schema, and nothing of another site or,
for the blinded token, of the arm."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests import factories
from tests.helpers import add_vas
from trialsite import roles
from trialsite.accounts import services
from trialsite.crf import registry
from trialsite.wsgi import application

pytestmark = pytest.mark.django_db

# What a blinded token may never be given: the arm's values, the forms that reveal it as a
# whole, the items that reveal it in other forms (trialsite/crf/registry.py).
ARM_NAMES = {'"arm": "A"', '"arm": "B"'} | {
    f'"{name}"'
    for definition in registry.forms()
    for name in ((definition.name,) if definition.reveals_arm else definition.arm_items)
}

USERS = {
    "coordinator": {"role": roles.COORDINATOR},
    "investigator": {"role": roles.INVESTIGATOR},
    "monitor": {"role": roles.MONITOR},
    "data_manager": {"role": roles.DATA_MANAGER},
    "blinded_monitor": {"role": roles.MONITOR, "is_blinded_assessor": True},
}


@pytest.fixture
def in_process():
    """Requests served in this thread, inside the test's transaction: as Django's test client
    does, the connection is not closed at the end of each request."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


def operations():
    """Every operation of the API's schema, as the WSGI application serves it."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    return [result.ok() for result in schema.get_all_operations()]


def token_holder(who, lahore, islamabad, coordinator, outsider):
    """A token of one kind of user (`who`) at Lahore, with data at both sites: (token, user,
    what the token may never return)."""
    ours = factories.participant_with_visits(site=lahore, by=coordinator, arm="B")
    add_vas(ours, "M0", 50, coordinator)
    theirs = factories.participant_with_visits(site=islamabad, by=outsider, arm="B")
    add_vas(theirs, "M0", 50, outsider)
    user = factories.UserFactory(sites=[lahore], **USERS[who])
    _, secret = services.create_api_token(name="schema", scope="read", days=1, by=user)
    return secret, user, {theirs.participant_id, islamabad.code}


@pytest.mark.parametrize("who", list(USERS))
def test_every_operation_keeps_to_its_schema_the_users_sites_and_blinding(
    who, lahore, islamabad, coordinator, outsider, settings, in_process
):
    settings.API_REQUESTS_PER_MINUTE = 10_000  # generated requests, not a client's
    secret, user, never = token_holder(who, lahore, islamabad, coordinator, outsider)
    found = operations()
    paths = {op.path.removeprefix("/api/v1") for op in found}
    assert paths >= {
        "/participants",
        "/visits",
        "/forms",
        "/forms/{form}/records",
        "/analysis/{name}",
        "/queries",
    }

    for operation in found:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case):
            # Every check but "a schema-valid request is accepted": a filter the form cannot
            # use, or a cursor the API did not give, is a documented 400.
            response = case.call_and_validate(
                # In process there is no HTTP client to undo the compression.
                headers={"Authorization": f"Bearer {secret}", "Accept-Encoding": "identity"},
                excluded_checks=[positive_data_acceptance],
            )
            assert response.status_code < 500, case.path
            if response.status_code != 200:
                return
            text = response.content.decode()
            assert not [v for v in never if f'"{v}"' in text], (case.path, case.query)
            if not user.sees_arm:
                assert not [name for name in ARM_NAMES if name in text], case.path

        check()
