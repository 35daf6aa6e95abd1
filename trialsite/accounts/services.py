"""Account services: users managed by data managers, and second-factor enrolment.

Each runs in one transaction attributed to the acting user; the audit trigger records every
change to users, their roles and sites, their devices (key and tokens kept out).
"""

import secrets

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from trialsite import roles
from trialsite.accounts.models import User
from trialsite.audit import context as audit

RECOVERY_CODES = 10
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"


# --- Users ---------------------------------------------------------------------------------------
def _may_manage(by, user=None) -> None:
    if not by.has_perms(["accounts.add_user", "accounts.change_user"]):
        raise PermissionDenied("Only a data manager can manage users.")
    if user is not None and (user.is_superuser or user.is_staff):
        raise PermissionDenied("Administrator accounts are managed by an administrator.")
    if user is not None and user.pk == by.pk:
        raise PermissionDenied("Ask another data manager to change your own account.")


def _check_sites(by, sites) -> None:
    if not by.is_superuser and any(site.pk not in by.site_ids for site in sites):
        raise PermissionDenied("You can give access only to your own sites.")


def _set_role_and_sites(user, role: str, sites) -> None:
    if role not in roles.ROLES:
        raise ValidationError({"role": "Choose one of the four roles."})
    user.groups.set([Group.objects.get(name=role)])
    user.sites.set(sites)


def create_user(*, data: dict, role: str, sites, by) -> User:
    """A new user with one role and some of the acting data manager's sites, and no usable
    password: they set one through the link sent to them."""
    _may_manage(by)
    _check_sites(by, sites)
    with transaction.atomic(), audit.acting(by=by):
        user = User(**data)
        user.set_unusable_password()
        user.save()
        _set_role_and_sites(user, role, sites)
    return user


def update_user(*, user: User, data: dict, role: str, sites, by) -> User:
    """Change a user's name, role, sites, blinding or active state (deactivate, never
    delete: the audit trail and signatures name them). Sites the acting data manager does
    not hold are kept as they were."""
    _may_manage(by, user)
    _check_sites(by, sites)
    with transaction.atomic(), audit.acting(by=by):
        kept = [s for s in user.sites.all() if s.pk not in by.site_ids and not by.is_superuser]
        for name, value in data.items():
            setattr(user, name, value)
        user.save()
        _set_role_and_sites(user, role, [*sites, *kept])
    return user


# --- Second factor -------------------------------------------------------------------------------
def start_totp(user) -> TOTPDevice:
    """The user's unconfirmed authenticator device (a new key each time enrolment starts)."""
    with transaction.atomic(), audit.acting(by=user):
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def confirm_totp(*, device: TOTPDevice, token: str) -> list[str]:
    """Confirm the device with a code it shows; replace any earlier devices. Returns new
    recovery codes, shown once."""
    if not device.verify_token(token):
        raise ValidationError({"token": "That code is not right: check the app and try again."})
    with transaction.atomic(), audit.acting(by=device.user):
        TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save()
        return new_recovery_codes(device.user)


def new_recovery_codes(user) -> list[str]:
    """Ten single-use codes for when the phone is lost; earlier codes stop working."""
    with transaction.atomic(), audit.acting(by=user):
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
        codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
        for code in codes:
            device.token_set.create(token=code)
        return codes


def has_second_factor(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()
