"""Roles are groups with explicit permissions; each role can do what it should and no more."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from outcomes.models import VasPain
from tests import factories
from tests.helpers import vas_post as post_data
from tests.helpers import vas_url as url
from trialsite import roles
from trialsite.roles import ROLE_PERMISSIONS

pytestmark = pytest.mark.django_db


def test_the_data_migration_created_each_role_with_exactly_its_permissions():
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert held == set(perms), role
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLES)


def test_a_permission_added_by_hand_is_reset_by_the_next_migrate():
    from django.apps import apps
    from django.contrib.auth.models import Permission

    monitor = Group.objects.get(name=roles.MONITOR)
    monitor.permissions.add(Permission.objects.get(codename="change_vaspain"))
    roles.sync_roles(apps)
    assert not monitor.permissions.filter(codename="change_vaspain").exists()


@pytest.mark.parametrize(
    ("persona", "perm", "allowed"),
    [
        ("coordinator", "outcomes.add_vaspain", True),
        ("coordinator", "accounts.randomize_participant", True),
        ("coordinator", "accounts.sign_records", False),
        ("coordinator", "accounts.lock_data", False),
        ("investigator", "accounts.sign_records", True),
        ("investigator", "outcomes.change_vaspain", False),
        ("monitor", "accounts.verify_source_data", True),
        ("monitor", "accounts.raise_query", True),
        ("monitor", "outcomes.change_vaspain", False),
        ("monitor", "accounts.sign_records", False),
        ("data_manager", "accounts.lock_data", True),
        ("data_manager", "accounts.change_user", True),
        ("data_manager", "outcomes.change_vaspain", False),
        ("data_manager", "accounts.randomize_participant", False),
    ],
)
def test_role_permissions(request, persona, perm, allowed):
    user = request.getfixturevalue(persona)
    assert user.has_perm(perm) is allowed


def test_a_coordinator_enters_a_crf(client, coordinator, visit):
    client.force_login(coordinator)
    assert client.get(url(visit)).status_code == 200
    assert client.post(url(visit), post_data()).status_code == 302
    assert VasPain.objects.filter(visit=visit).exists()


@pytest.mark.parametrize("persona", ["monitor", "investigator", "data_manager"])
def test_read_only_roles_see_a_crf_but_cannot_save_it(request, client, visit, persona):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(url(visit))
    assert response.status_code == 200
    assert "Read only" in response.content.decode()
    assert client.post(url(visit), post_data()).status_code == 403
    assert not VasPain.objects.filter(visit=visit).exists()


def test_a_user_without_a_role_sees_no_clinical_data(client, lahore, visit):
    from tests.factories import UserFactory

    client.force_login(UserFactory(sites=[lahore]))
    assert client.get(url(visit)).status_code == 403
    assert client.get(reverse("participant_list")).status_code == 403


def test_the_admin_is_for_superusers_and_users_and_sites_only(
    client, data_manager, coordinator, lahore
):
    """ASVS 4.1.3: only an administrator can grant superuser, staff or individual permissions
    or set another user's password; a data manager manages users on the users page."""
    client.force_login(data_manager)
    assert client.get("/admin/accounts/user/").status_code == 302  # to the admin log-in
    client.force_login(factories.UserFactory(username="root", is_superuser=True, is_staff=True))
    assert client.get("/admin/accounts/user/").status_code == 200
    assert client.get("/admin/sites/site/").status_code == 200
    # No CRF and no clinical model can be edited through the admin.
    assert client.get("/admin/outcomes/vaspain/").status_code == 404
    assert client.get("/admin/enrollment/participant/").status_code == 404
    # Roles are code: the group admin is read-only.
    group = Group.objects.get(name=roles.MONITOR)
    response = client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "Hacked"})
    assert response.status_code == 403
    assert Group.objects.filter(name=roles.MONITOR).exists()

    client.force_login(coordinator)
    assert client.get("/admin/accounts/user/").status_code == 302  # to the admin log-in
