"""Schemathesis on the API (trialsite/api.py) with a token of each role and of a blinded user,
read-only and read-write: every operation, inputs generated from its OpenAPI schema (in process
through the WSGI application, inside each test's transaction), then, against the live test
server, the schema's links followed from response to request (a record saved, then read back;
an export started, followed, downloaded); no server error, no
response that breaks the schema, and nothing of another site or, for the blinded token, of the
arm."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from enrollment.models import Participant
from outcomes.models import VasPain
from tests import factories
from tests.helpers import add_vas, earlier_today
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


def token_holder(who, lahore, islamabad, coordinator, outsider, scope="read"):
    """A token of one kind of user (`who`) at Lahore, with data at both sites: (token, user,
    what the token may never return)."""
    ours = factories.participant_with_visits(site=lahore, by=coordinator, arm="B")
    add_vas(ours, "M0", 50, coordinator)
    theirs = factories.participant_with_visits(site=islamabad, by=outsider, arm="B")
    add_vas(theirs, "M0", 50, outsider)
    user = factories.UserFactory(sites=[lahore], **USERS[who])
    _, secret = services.create_api_token(name="schema", scope=scope, days=1, by=user)
    return secret, user, {theirs.participant_id, islamabad.code}


def never_given(response, user, never) -> None:
    """Nothing of another site in a response, nor of the arm for a user who may not see it."""
    if response.status_code != 200 or "json" not in response.headers.get("Content-Type", ""):
        return
    text = response.content.decode()
    assert not [v for v in never if f'"{v}"' in text], response.request.url
    if not user.sees_arm:
        assert not [name for name in ARM_NAMES if name in text], response.request.url


@pytest.mark.parametrize(
    ("who", "scope"),
    [(who, "read") for who in USERS]
    + [("coordinator", "read-write"), ("investigator", "read-write")],
)
def test_every_operation_keeps_to_its_schema_the_users_sites_and_blinding(
    who, scope, lahore, islamabad, coordinator, outsider, settings, in_process
):
    settings.API_REQUESTS_PER_MINUTE = 10_000  # generated requests, not a client's
    secret, user, never = token_holder(who, lahore, islamabad, coordinator, outsider, scope)
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
            never_given(response, user, never)

        check()


@pytest.mark.parametrize(
    ("who", "scope"),
    [("coordinator", "read-write"), ("monitor", "read"), ("blinded_monitor", "read")],
)
@pytest.mark.django_db(transaction=True)
def test_the_schemas_links_are_followed_keeping_to_the_schema_sites_and_blinding(
    who, scope, lahore, islamabad, coordinator, outsider, settings, live_server
):
    """Schemathesis's state machine, against the live test server over HTTP, follows each link
    of the schema from a response to the next request. Saves with `complete` drawn true are
    steered to a valid VAS record of a participant of the token's site, at the version stored
    (random answers are refused before a record exists to read back), so that the link from a
    saved record is followed too."""
    settings.API_REQUESTS_PER_MINUTE = 10_000
    secret, user, never = token_holder(who, lahore, islamabad, coordinator, outsider, scope)
    ours = Participant.objects.filter(site=lahore).first()
    at = f"{earlier_today():%Y-%m-%dT%H:%M}"
    followed = []

    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
    # Requests valid by the schema, as in the test above: a documented 400 or 422 is checked
    # there; the steps here are meant to go through.
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])

    class Links(schema.as_state_machine()):
        def before_call(self, case):
            steer = case.method == "POST" and case.path.endswith("/records")
            if steer and isinstance(case.body, dict) and case.body.get("complete") is True:
                case.path_parameters = {"form": "vas-pain"}
                case.body = {
                    "participant_id": ours.participant_id,
                    "visit": "SCR",
                    "version": VasPain.objects.filter(visit__participant=ours, visit__code="SCR")
                    .values_list("version", flat=True)
                    .first()
                    or 0,
                    "reason_for_change": "Re-read from the source",
                    "complete": True,
                    "data": {"assessed_at": at, "knee": "R", "score_mm": 30, "method": "paper"},
                }

        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Bearer {secret}"}}

        def after_call(self, response, case):
            assert response.status_code < 500, case.path
            never_given(response, user, never)
            followed.append((case.method, case.path, response.status_code))

        def validate_response(self, response, case, **kwargs):
            case.validate_response(
                response,
                excluded_checks=[positive_data_acceptance],
                headers=kwargs.get("headers"),
                transport_kwargs=kwargs,
            )

    Links.run(
        settings=hypothesis_settings(
            max_examples=40,
            stateful_step_count=6,
            deadline=None,
            database=None,
            derandomize=True,  # the same scenarios every run: the chains asserted below
            suppress_health_check=list(HealthCheck),
        )
    )
    reached = {(method, path) for method, path, status in followed if status in (200, 202)}
    if user.has_perm("accounts.export_data"):  # an export started, then followed by its id
        assert ("GET", "/api/v1/exports/{export_id}") in reached
    if scope == "read-write":  # a record saved, then read back
        assert {
            ("POST", "/api/v1/forms/{form}/records"),
            ("GET", "/api/v1/forms/{form}/records"),
        } <= reached
