"""The REST API (trialsite/api.py) and its personal tokens (accounts.ApiToken): made on the
account page, kept hashed and shown once, expiring, revocable, read-only or read-write, rate
limited and logged; the API's lists keep to the token user's sites and blinding."""

import hashlib
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from ninja.errors import HttpError

from monitoring import queries
from outcomes.models import VasPain
from safety import services as safety_services
from tests import factories, helpers
from tests.helpers import add_vas, change_vas
from tests.helpers import api_get as get
from tests.helpers import api_post as post
from tests.helpers import api_token as make_token
from trialsite import roles
from trialsite.accounts import services
from trialsite.accounts.models import ApiToken, ApiTokenUse
from trialsite.api import TokenAuth
from trialsite.audit.models import AuditEvent
from trialsite.crf import locking
from trialsite.crf.models import Lock

pytestmark = pytest.mark.django_db


def test_a_user_makes_a_token_on_the_account_page_sees_it_once_and_revokes_it(client, coordinator):
    client.force_login(coordinator)
    response = client.post(
        reverse("api_tokens"), {"name": "R analysis", "scope": "read", "days": "30"}
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = response.context["secret"]
    assert secret.startswith("tsk_") and secret in response.content.decode()
    token = ApiToken.objects.get(user=coordinator)
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {token.name, token.prefix, token.key_hash} and secret.startswith(
        token.prefix
    )
    assert (token.expires_at - token.created_at).days == 30
    again = client.get(reverse("api_tokens")).content.decode()
    assert secret not in again and f"{token.prefix}…" in again  # shown once
    made = AuditEvent.objects.get(
        table_name="accounts_apitoken", row_pk=str(token.pk), action="INSERT"
    )
    assert made.username == coordinator.username and "key_hash" not in made.new_values

    assert get("/participants", secret).status_code == 200
    client.post(reverse("api_token_revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert get("/participants", secret).status_code == 401


def test_the_form_refuses_bad_input_next_to_the_field(client, coordinator, settings):
    client.force_login(coordinator)
    response = client.post(
        reverse("api_tokens"),
        {"name": " ", "scope": "admin", "days": str(settings.API_TOKEN_MAX_DAYS + 1)},
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) == {"name", "scope", "days"}
    assert not ApiToken.objects.exists()


def test_a_user_who_needs_a_second_factor_must_have_one_to_make_a_token(lahore):
    monitor = factories.UserFactory(role=roles.MONITOR, sites=[lahore], second_factor=False)
    with pytest.raises(services.PermissionDenied, match="second factor"):
        make_token(monitor)
    coordinator = factories.UserFactory(role=roles.COORDINATOR, sites=[lahore], second_factor=False)
    assert make_token(coordinator)  # a coordinator's role does not require one


def test_an_unknown_expired_or_missing_token_is_refused(client, coordinator):
    secret = make_token(coordinator)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert get("/participants", secret).status_code == 401
    assert get("/participants", "tsk_not-a-token").status_code == 401
    assert client.get("/api/v1/participants").status_code == 401
    coordinator.is_active = False
    coordinator.save()
    ApiToken.objects.update(expires_at=timezone.now() + timedelta(days=1))
    assert get("/participants", secret).status_code == 401


def test_a_read_only_token_may_not_write(coordinator):
    auth = TokenAuth()
    for scope, allowed in ((ApiToken.Scope.READ, False), (ApiToken.Scope.READ_WRITE, True)):
        secret = make_token(coordinator, scope=scope)
        request = RequestFactory().post("/api/v1/forms/vas-pain/records")
        if allowed:
            assert auth.authenticate(request, secret).scope == scope
        else:
            with pytest.raises(HttpError, match="only read") as refused:
                auth.authenticate(request, secret)
            assert refused.value.status_code == 403


def test_requests_are_limited_per_token_and_each_use_is_logged(coordinator, settings):
    settings.API_REQUESTS_PER_MINUTE = 3
    first, second = make_token(coordinator), make_token(coordinator)
    statuses = [get("/participants", first).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert get("/participants", second).status_code == 200  # its own count
    uses = ApiTokenUse.objects.filter(token__key_hash=services.token_hash(first)).order_by("at")
    assert [u.status for u in uses] == statuses
    assert all(u.user == coordinator and u.path == "/api/v1/participants" for u in uses)


def test_lists_keep_to_the_users_sites_and_pages_follow_the_cursor(
    coordinator, lahore, islamabad, outsider
):
    ours = [factories.participant_with_visits(site=lahore, by=coordinator) for _ in range(3)]
    theirs = factories.participant_with_visits(site=islamabad, by=outsider)
    secret = make_token(coordinator)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = get("/participants", secret, **params).json()
        seen += [p["participant_id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [p.participant_id for p in ours]  # once each, in order; not Islamabad's
    assert get("/participants", secret, site=islamabad.code).json()["items"] == []
    visits = get("/visits", secret, participant=theirs.participant_id).json()
    assert visits["items"] == []
    assert get("/participants", secret, cursor="nonsense").status_code == 400
    uses = ApiTokenUse.objects.filter(path__startswith="/api/v1/participants", status=200)
    assert sorted(u.records for u in uses)[-1] == 2


def test_form_records_are_named_as_in_the_data_dictionary_and_filtered(coordinator, lahore):
    participant = factories.participant_with_visits(site=lahore, by=coordinator)
    vas_m0 = add_vas(participant, "M0", 40, coordinator)
    add_vas(participant, "M1", 30, coordinator)
    before_change = timezone.now()
    change_vas(vas_m0, coordinator, score=44)
    secret = make_token(coordinator)

    records = get("/forms/vas-pain/records", secret).json()["items"]
    assert [(r["visit"], r["score_mm"]) for r in records] == [("M0", 44), ("M1", 30)]
    assert {"participant_id", "site", "visit", "status", "version", "modified_at"} <= set(
        records[0]
    )
    m1 = get("/forms/vas_pain/records", secret, visit="M1").json()["items"]
    assert [r["score_mm"] for r in m1] == [30]
    changed = get(
        "/forms/vas-pain/records", secret, modified_since=before_change.isoformat()
    ).json()["items"]
    assert [r["visit"] for r in changed] == ["M0"]
    assert get("/forms/no-such-form/records", secret).status_code == 404

    names = {f["name"] for f in get("/forms", secret).json()}
    assert {"vas_pain", "womac", "adverse_event"} <= names


def test_a_blinded_user_gets_no_arm_from_the_api(coordinator, lahore):
    factories.participant_with_visits(site=lahore, by=coordinator, arm="B")
    assessor = factories.UserFactory(
        role=roles.COORDINATOR, sites=[lahore], is_blinded_assessor=True
    )
    open_secret, blind_secret = make_token(coordinator), make_token(assessor)
    (seen,) = get("/participants", open_secret).json()["items"]
    (blind,) = get("/participants", blind_secret).json()["items"]
    assert seen["arm"] == "B" and blind["arm"] is None
    open_forms = {f["name"] for f in get("/forms", open_secret).json()}
    blind_forms = {f["name"] for f in get("/forms", blind_secret).json()}
    assert "prgf_preparation" in open_forms and "prgf_preparation" not in blind_forms
    refused = get("/forms/prgf-preparation/records", blind_secret)
    assert refused.status_code == 404
    blind_items = {item["name"] for f in get("/forms", blind_secret).json() for item in f["items"]}
    assert "arm" not in blind_items


def test_the_openapi_document_and_its_page_are_served(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert {"/api/v1/participants", "/api/v1/visits", "/api/v1/forms/{form}/records"} <= set(
        schema["paths"]
    )
    assert schema["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"
    page = client.get("/api/v1/docs").content.decode()
    assert "swagger-ui" in page and "cdn." not in page  # local files: sites may be offline


def test_analysis_files_are_for_roles_that_export_and_hide_the_arm_from_the_blinded(
    coordinator, monitor, lahore
):
    factories.participant_with_visits(site=lahore, by=coordinator, arm="A")
    blinded = factories.UserFactory(role=roles.MONITOR, sites=[lahore], is_blinded_assessor=True)
    seen = get("/analysis/analysis_participants", make_token(monitor)).json()["items"]
    hidden = get("/analysis/analysis_participants", make_token(blinded)).json()["items"]
    assert seen[0]["arm"] == "A" and "arm" not in hidden[0]
    assert set(seen[0]) - set(hidden[0]) == {"arm"}
    assert get("/analysis/analysis_visits", make_token(coordinator)).status_code == 403
    assert get("/analysis/no_such_file", make_token(monitor)).status_code == 404


def test_data_queries_keep_to_the_users_sites_and_blinding(
    coordinator, monitor, lahore, islamabad, outsider
):
    ours = factories.participant_with_visits(site=lahore, by=coordinator, arm="B")
    vas = add_vas(ours, "M0", 40, coordinator)
    asked = queries.raise_query(crf=vas, field="score_mm", question="Ruler?", by=monitor)
    ae = safety_services.report_adverse_event(
        participant=ours, data=helpers.ae_answers(relationship_prgf="possible"), by=coordinator
    )
    queries.raise_query(crf=ae, field="relationship_prgf", question="Why?", by=monitor)
    theirs = factories.participant_with_visits(site=islamabad, by=outsider)
    other = factories.UserFactory(role=roles.MONITOR, sites=[islamabad])
    queries.raise_query(
        crf=add_vas(theirs, "M0", 50, outsider), field="score_mm", question="ISB?", by=other
    )
    blinded = factories.UserFactory(role=roles.MONITOR, sites=[lahore], is_blinded_assessor=True)

    seen = get("/queries", make_token(monitor), state="open").json()["items"]
    assert {(q["form"], q["item"]) for q in seen} == {
        ("vas_pain", "score_mm"),
        ("adverse_event", "relationship_prgf"),
    }
    (vas_query,) = [q for q in seen if q["item"] == "score_mm"]
    assert vas_query["id"] == asked.pk and vas_query["visit"] == "M0"
    assert vas_query["question"] == "Ruler?" and vas_query["participant_id"] == ours.participant_id
    hidden = get("/queries", make_token(blinded)).json()["items"]
    assert [q["item"] for q in hidden] == ["score_mm"]  # not the arm's item
    assert get("/queries", make_token(monitor), form="womac").json()["items"] == []


def test_a_read_write_token_saves_a_record_through_the_form_and_its_service(
    client, coordinator, lahore
):
    participant = factories.participant_with_visits(site=lahore, by=coordinator)
    m0 = helpers.visit(participant, "M0")
    secret = make_token(coordinator, scope=ApiToken.Scope.READ_WRITE)
    at = f"{helpers.earlier_today():%Y-%m-%dT%H:%M}"
    body = {
        "participant_id": participant.participant_id,
        "visit": "M0",
        "version": 0,
        "complete": True,
        "data": {"assessed_at": at, "knee": "R", "score_mm": 37, "method": "paper"},
    }
    assert post("/forms/vas-pain/records", make_token(coordinator), body).status_code == 403

    saved = post("/forms/vas-pain/records", secret, body)
    assert saved.status_code == 200, saved.content
    assert saved.json()["score_mm"] == 37 and saved.json()["version"] == 1
    record = VasPain.objects.get(visit=m0)
    assert (record.score_mm, record.status, record.modified_by) == (37, "complete", coordinator)
    made = AuditEvent.objects.get(table_name="outcomes_vaspain", row_pk=str(record.pk))
    assert made.username == coordinator.username

    changed = {**body["data"], "score_mm": 38}
    stale = post(
        "/forms/vas-pain/records", secret, {**body, "reason_for_change": "typo", "data": changed}
    )
    assert stale.status_code == 409 and "version 1 is stored" in stale.json()["detail"]
    no_reason = post(
        "/forms/vas-pain/records",
        secret,
        {**body, "version": 1, "data": {**body["data"], "score_mm": 38}},
    )
    assert no_reason.status_code == 400 and no_reason.json()["errors"]

    # The same words as the form page, item by item.
    bad = {**body["data"], "score_mm": 150}
    refused = post(
        "/forms/vas-pain/records",
        secret,
        {**body, "version": 1, "reason_for_change": "typo", "data": bad},
    )
    client.force_login(coordinator)
    page = client.post(
        helpers.vas_url(m0),
        {**bad, "version": 1, "mark_complete": "on", "reason_for_change": "typo"},
    )
    assert refused.status_code == 400
    assert refused.json()["errors"]["score_mm"] == list(page.context["form"].errors["score_mm"])
    assert VasPain.objects.get(visit=m0).score_mm == 37


def test_a_locked_visit_refuses_a_save_from_the_api_as_from_the_page(
    coordinator, data_manager, lahore
):
    participant = factories.participant_with_visits(site=lahore, by=coordinator)
    m0 = helpers.visit(participant, "M0")
    locking.lock(scope=Lock.Scope.VISIT, reason="Reviewed", by=data_manager, visit=m0)
    at = f"{helpers.earlier_today():%Y-%m-%dT%H:%M}"
    refused = post(
        "/forms/vas-pain/records",
        make_token(coordinator, scope=ApiToken.Scope.READ_WRITE),
        {
            "participant_id": participant.participant_id,
            "visit": "M0",
            "data": {"assessed_at": at, "knee": "R", "score_mm": 37, "method": "paper"},
        },
    )
    assert refused.status_code == 400
    assert refused.json()["errors"]["__all__"] == [locking.LOCKED]
    assert not VasPain.objects.filter(visit=m0).exists()


def test_modified_since_without_a_zone_is_a_time_of_the_site(coordinator, lahore):
    participant = factories.participant_with_visits(site=lahore, by=coordinator)
    vas = add_vas(participant, "M0", 40, coordinator)
    saved_here = timezone.localtime(vas.modified_at, lahore.zone).replace(tzinfo=None)
    secret = make_token(coordinator)
    before = (saved_here - timedelta(minutes=1)).isoformat()
    after = (saved_here + timedelta(minutes=1)).isoformat()
    assert len(get("/forms/vas-pain/records", secret, modified_since=before).json()["items"]) == 1
    assert get("/forms/vas-pain/records", secret, modified_since=after).json()["items"] == []
