"""Users managed by data managers on the users page, and what only administrators may do
(ASVS 4.0.3 V4.1.3 least privilege, V7.1 audited security events)."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.urls import reverse

from tests import factories
from trialsite import roles
from trialsite.accounts.models import User
from trialsite.audit.models import AuditEvent


def _new_user(client, **overrides):
    data = {
        "username": "newcoord",
        "first_name": "New",
        "last_name": "Coordinator",
        "email": "newcoord@example.org",
        "role": roles.COORDINATOR,
        "sites": [],
        **overrides,
    }
    return client.post(reverse("user_new"), data)


def test_a_data_manager_creates_a_user_with_a_role_and_sites_and_a_password_link(
    client, data_manager, lahore
):
    client.force_login(data_manager)
    response = _new_user(client, sites=[lahore.pk])
    assert response.status_code == 302
    user = User.objects.get(username="newcoord")
    assert user.role_names == {roles.COORDINATOR} and list(user.sites.all()) == [lahore]
    assert not user.has_usable_password()
    assert not (user.is_staff or user.is_superuser or user.user_permissions.exists())
    # The link sets the password once.
    (message,) = mail.outbox
    assert message.to == ["newcoord@example.org"]
    link = next(w for w in message.body.split() if "/accounts/password/set/" in w)
    client.logout()
    form = client.get(link, follow=True)
    assert form.status_code == 200 and form.context["validlink"]
    new = {"new_password1": "a-long-new-password-9", "new_password2": "a-long-new-password-9"}
    assert client.post(form.redirect_chain[-1][0], new).status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-long-new-password-9")
    assert not client.get(link, follow=True).context["validlink"]  # used once
    # Each step is in the audit trail; the password change by name only, without the hash.
    changes = AuditEvent.objects.filter(table_name="accounts_user", row_pk=str(user.pk))
    created = changes.get(action="INSERT")
    assert created.user_id == data_manager.pk and "password" not in created.new_values
    password_set = changes.filter(action="UPDATE", changed_fields__contains=["password"]).get()
    assert "password" not in password_set.new_values | password_set.old_values
    assert AuditEvent.objects.filter(table_name="accounts_user_groups").exists()
    assert AuditEvent.objects.filter(table_name="accounts_user_sites").exists()


def test_a_data_manager_gives_access_only_to_their_own_sites(client, data_manager, islamabad):
    client.force_login(data_manager)
    response = _new_user(client, sites=[islamabad.pk])
    assert response.status_code == 400 and "sites" in response.context["form"].errors
    assert not User.objects.filter(username="newcoord").exists()


def test_a_data_manager_deactivates_and_changes_the_role_but_not_the_address(
    client, data_manager, coordinator, lahore
):
    client.force_login(data_manager)
    url = reverse("user_edit", args=[coordinator.pk])
    data = {
        "first_name": "C",
        "last_name": "D",
        "role": roles.MONITOR,
        "sites": [lahore.pk],
        "is_active": "",
        "email": "attacker@example.org",  # disabled field: ignored
        "username": "renamed",
    }
    assert client.post(url, data).status_code == 302
    coordinator.refresh_from_db()
    assert not coordinator.is_active and coordinator.role_names == {roles.MONITOR}
    assert (coordinator.email, coordinator.username) == ("coordinator@example.org", "coordinator")
    event = AuditEvent.objects.filter(
        table_name="accounts_user", row_pk=str(coordinator.pk), action="UPDATE"
    ).last()
    assert "is_active" in event.changed_fields and event.user_id == data_manager.pk


@pytest.mark.parametrize("target", ["superuser", "staff", "self"])
def test_a_data_manager_cannot_touch_administrators_or_their_own_account(
    client, data_manager, lahore, target
):
    other = {
        "superuser": lambda: factories.UserFactory(
            username="root", is_superuser=True, sites=[lahore]
        ),
        "staff": lambda: factories.UserFactory(username="staff", is_staff=True, sites=[lahore]),
        "self": lambda: data_manager,
    }[target]()
    client.force_login(data_manager)
    assert client.get(reverse("user_edit", args=[other.pk])).status_code in (403, 404)
    response = client.post(reverse("user_password_link", args=[other.pk]))
    assert response.status_code in (403, 404) and not mail.outbox


def test_asvs_4_1_3_only_administrators_grant_permissions_or_set_passwords(
    client, data_manager, coordinator
):
    """The admin, where superuser, staff, individual permissions and passwords are set, is
    closed to data managers; the users page has none of these."""
    client.force_login(data_manager)
    change = reverse("admin:accounts_user_change", args=[coordinator.pk])
    password = reverse("admin:auth_user_password_change", args=[coordinator.pk])
    for url in (change, password):
        assert client.get(url).status_code == 302  # to the admin's log-in
        client.post(url, {"password1": "x-long-password-1", "password2": "x-long-password-1"})
    coordinator.refresh_from_db()
    assert coordinator.check_password(factories.PASSWORD) and not coordinator.is_superuser
    form = client.get(reverse("user_new")).context["form"]
    assert not {"is_superuser", "is_staff", "user_permissions", "password"} & set(form.fields)


def test_individual_permissions_and_groups_are_audited(data_manager, coordinator):
    coordinator.user_permissions.add(Permission.objects.get(codename="sign_records"))
    assert AuditEvent.objects.filter(table_name="accounts_user_user_permissions").exists()
    group = data_manager.groups.get()
    group.name = "Data manager"  # unchanged: no row
    group.save()
    Group.objects.create(name="Extra")
    assert AuditEvent.objects.filter(table_name="auth_group", action="INSERT").exists()


def test_coordinators_and_monitors_have_no_users_page(client, coordinator, monitor):
    for user in (coordinator, monitor):
        client.force_login(user)
        assert client.get(reverse("user_list")).status_code == 403
        assert _new_user(client).status_code == 403
