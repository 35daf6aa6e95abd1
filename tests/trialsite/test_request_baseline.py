"""What every signed-in page costs before its own work: the session, the user with their roles,
sites, time zone and permissions (trialsite/accounts/backends.py), the second factor; no write
on a GET (the session is saved at most once a minute, trialsite/accounts/middleware.py; the
audit context only before a write, trialsite/audit/middleware.py)."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories
from trialsite import roles
from trialsite.accounts.backends import RequestUserBackend
from trialsite.accounts.middleware import SEEN_AT
from trialsite.accounts.models import User
from trialsite.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE", "SET_CONFIG")


def statements(client, method: str, url: str, data=None) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        getattr(client, method)(url, data or {})
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize("role", ["coordinator", "investigator", "monitor", "data_manager"])
def test_a_signed_in_page_costs_three_queries_and_a_get_writes_nothing(client, request, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    client.get(reverse("password_change"))  # the first request stamps the new session
    sql = statements(client, "get", reverse("password_change"))
    assert len(sql) <= 3, sql
    assert not [s for s in sql if any(w in s.upper() for w in WRITES)]


def test_the_user_comes_with_what_django_would_load_one_query_at_a_time(
    coordinator, investigator, monitor, data_manager, islamabad
):
    monitor.sites.add(islamabad)
    # A permission of the user's own, besides their role's.
    monitor.user_permissions.add(Permission.objects.get(codename="lock_data"))
    assert "accounts.lock_data" not in ModelBackend().get_group_permissions(monitor)
    for user in (coordinator, investigator, monitor, data_manager):
        loaded = RequestUserBackend().get_user(user.pk)
        fresh = User.objects.get(pk=user.pk)
        assert loaded.site_ids == frozenset(fresh.sites.values_list("pk", flat=True))
        assert loaded.time_zone == fresh.sites.order_by("pk").first().time_zone
        assert loaded.role_names == frozenset(fresh.groups.values_list("name", flat=True))
        assert loaded.get_all_permissions() == ModelBackend().get_all_permissions(fresh)
        assert loaded.get_all_permissions()  # every role holds some
        assert [getattr(loaded, f.attname) for f in User._meta.concrete_fields] == [
            getattr(fresh, f.attname) for f in User._meta.concrete_fields
        ]
    inactive = factories.UserFactory(username="gone", role=roles.MONITOR, is_active=False)
    assert RequestUserBackend().get_user(inactive.pk) is None
    # A session's id as text (as sessions keep it) is the user's; one of no user is nobody.
    assert RequestUserBackend().get_user(str(coordinator.pk)).pk == coordinator.pk
    for nobody in (inactive.pk + 1000, "x", None):
        assert RequestUserBackend().get_user(nobody) is None


def test_a_role_change_applies_at_the_users_next_request(client, coordinator, data_manager):
    client.force_login(coordinator)
    assert client.get(reverse("user_list")).status_code == 403
    coordinator.groups.set([data_manager.groups.get()])  # as the users page does
    assert client.get(reverse("user_list")).status_code == 200


def test_the_session_moves_its_expiry_at_most_once_a_minute_and_ends_when_idle(client, coordinator):
    client.force_login(coordinator)
    page = reverse("password_change")
    client.get(page)
    key = client.session.session_key
    first = Session.objects.get(session_key=key).expire_date
    assert not [s for s in statements(client, "get", page) if "UPDATE" in s.upper()]
    assert Session.objects.get(session_key=key).expire_date == first

    # A minute after it was last moved, the next request moves it (the idle limit restarts).
    session = client.session
    session[SEEN_AT] = time.time() - 61
    session.save()
    client.get(page)
    assert Session.objects.get(session_key=key).expire_date > first

    # Idle past the limit: the next request finds no session.
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    response = client.get(page)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_write_is_attributed_to_the_user_and_the_connection_is_cleared_after(client, coordinator):
    client.force_login(coordinator)
    client.get(reverse("password_change"))
    new = "a new long passphrase for the test"
    sql = statements(
        client,
        "post",
        reverse("password_change"),
        {"old_password": factories.PASSWORD, "new_password1": new, "new_password2": new},
    )
    first_write = next(i for i, s in enumerate(sql) if s.lstrip().upper().startswith("UPDATE"))
    assert "set_config" in sql[first_write - 1]  # set just before the first write
    change = AuditEvent.objects.filter(table_name="accounts_user", action="UPDATE").last()
    assert (change.row_pk, change.username) == (str(coordinator.pk), coordinator.username)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('trialsite.user_id', true)")
        assert cursor.fetchone()[0] in ("", None)


def test_the_pages_connections_start_no_parallel_query_workers():
    """A page's few index reads are not worth starting workers for (trialsite/settings.py)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone() == ("0",)
