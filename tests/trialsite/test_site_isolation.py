"""Site isolation, proven from the URLconf (ASVS 4.0.3 V4.2.1: no insecure direct object
references). Every URL pattern's view declares what it requires (trialsite/access.py); each
URL that names an object is replayed with an object of Lahore as users of Islamabad."""

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, include, path, reverse

from monitoring import documents, queries
from outcomes.models import VasPain
from safety.models import AdverseEvent
from tests import factories
from trialsite import roles
from trialsite.accounts.admin import superusers_only
from trialsite.crf import locking, registry
from trialsite.crf.models import Lock
from visits.models import Injection

# Objects that belong to the whole study, not to a site: other sites' users may open them,
# but the page must not name a participant or a person of another site.
STUDY_WIDE = {"visits.SecretomeLot"}


def url_patterns(patterns=None, namespace=""):
    """(name, callback) of every URL pattern, the admin's aside (checked as a whole)."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue
            yield from url_patterns(entry.url_patterns, entry.namespace or namespace)
        elif isinstance(entry, URLPattern):
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), entry.callback


def undeclared(patterns=None) -> list[str]:
    return [name for name, view in url_patterns(patterns) if not hasattr(view, "access")]


def test_every_url_pattern_declares_what_it_requires():
    assert undeclared() == []
    names = [name for name, _ in url_patterns()]
    assert len(names) > 40 and "lot_detail" in names and "form_entry" in names
    # The admin is for superusers (trialsite/accounts/admin.py).
    assert admin.site.has_permission is superusers_only


def test_a_pattern_whose_view_declares_nothing_is_found():
    def bare(request, pk):
        return None

    patterns = [*get_resolver().url_patterns, path("extra/<int:pk>/", bare, name="extra")]
    assert undeclared(patterns) == ["extra"]
    assert undeclared([path("x/", include([path("y/", bare, name="nested")]))]) == ["nested"]


@pytest.fixture
def lahore_world(study, coordinator, investigator, monitor, data_manager):
    """One object of every kind a URL names, all at Lahore (or, for lots, used there)."""
    participant = study["A"]
    visit = participant.visits.get(code="M0")
    vas = VasPain.objects.filter(participant=participant).first()
    ae = AdverseEvent.objects.filter(participant=participant).first()
    query = queries.raise_query(crf=vas, field="score_mm", question="Check?", by=monitor)
    lock = locking.lock(
        reason="database lock for analysis",
        scope=Lock.Scope.PARTICIPANT,
        participant=participant,
        by=data_manager,
    )
    document = documents.request_document(
        kind="casebook", data={"participant": participant.pk}, by=monitor
    )
    lot = Injection.objects.filter(participant=participant).first().secretome_lot
    objects = {
        "enrollment.Participant": participant,
        "enrollment.Screening": participant.screening,
        "visits.Visit": visit,
        "safety.AdverseEvent": ae,
        "monitoring.DataQuery": query,
        "crf.Lock": lock,
        "monitoring.Document": document,
        "accounts.User": coordinator,
        "visits.SecretomeLot": lot,
    }
    names = [p.participant_id for p in (study["A"], study["B"])]
    names += [u.printed_name for u in (coordinator, investigator, monitor, data_manager)]
    return objects, vas, names


# Declared URL arguments that are not models (trialsite/access.py).
FORM, RECORD, NUMBER = "form", "record", "number"


def _urls(name, declared, objects, vas) -> list[str]:
    """The URLs of a pattern, with Lahore's objects in its arguments."""
    vas_slug = registry.for_model(VasPain).slug
    if RECORD in declared.values():  # a record of a form: SDV, its audit trail
        return [reverse(name, kwargs={"form": vas_slug, "pk": vas.pk})]
    models = {arg: label for arg, label in declared.items() if label not in (FORM, NUMBER)}
    unknown = set(models.values()) - set(objects)
    assert not unknown, f"{name}: add an object of {unknown} to lahore_world"
    kwargs = {arg: objects[label].pk for arg, label in models.items()}
    if FORM in declared.values():  # the one form view: a visit's form, and a log entry
        log = registry.get("adverse_event").slug
        return [
            reverse(name, kwargs={**kwargs, "form": vas_slug}),
            reverse(
                name,
                kwargs={"participant_pk": kwargs["participant_pk"], "form": log, "number": "1"},
            ),
        ]
    return [reverse(name, kwargs=kwargs)]


OUTSIDERS = [roles.COORDINATOR, roles.INVESTIGATOR, roles.MONITOR, roles.DATA_MANAGER]


@pytest.mark.parametrize("role", OUTSIDERS)
def test_asvs_4_2_1_every_object_url_refuses_another_sites_users(
    client, lahore_world, islamabad, role
):
    objects, vas, lahore_names = lahore_world
    outsider = factories.UserFactory(username=f"isb-{role}", role=role, sites=[islamabad])
    client.force_login(outsider)
    checked = []
    for name, view in url_patterns():
        declared = dict(view.access.objects)
        if not declared:
            continue
        urls = _urls(name, declared, objects, vas)
        for url in urls:
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                if set(declared.values()) & STUDY_WIDE:
                    body = response.content.decode()
                    leaked = [n for n in lahore_names if n in body]
                    assert leaked == [], f"{method.upper()} {url} names {leaked}"
                else:
                    allowed = (403, 404) if method == "post" else (403, 404, 405)
                    assert response.status_code in allowed, (method, url, response.status_code)
            checked.append(name)
    assert {"lot_detail", "participant_detail", "form_entry", "document_download"} <= set(checked)
    assert {"ae_detail", "lock_lift", "query_action", "user_edit", "record_audit"} <= set(checked)
