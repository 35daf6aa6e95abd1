"""Account services: users managed by data managers, second-factor enrolment, API tokens.

Each runs in one transaction attributed to the acting user; the audit trigger records every
change to users, their roles and sites, their devices (key and tokens kept out).
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from trialsite import roles
from trialsite.accounts.backends import load_request_user
from trialsite.accounts.models import ApiToken, User
from trialsite.accounts.security import needs_second_factor
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


# --- API tokens ----------------------------------------------------------------------------------
TOKEN_PREFIX = "tsk_"  # noqa: S105 - the start of every secret, not a secret


def token_hash(secret: str) -> str:
    """What is kept of a token's secret (a random 256-bit key, so a plain SHA-256 suffices)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(*, name: str, scope: str, days: int, by) -> tuple[ApiToken, str]:
    """A personal API token of `by`, valid for `days` (at most settings.API_TOKEN_MAX_DAYS):
    the token and its secret, which is shown once and never kept. A user whose role needs a
    second factor must have enrolled one."""
    if needs_second_factor(by) and not has_second_factor(by):
        raise PermissionDenied("Enrol a second factor before making an API token.")
    name = " ".join(name.split())
    errors = {}
    if not name:
        errors["name"] = "Say what the token is for."
    if scope not in ApiToken.Scope.values:
        errors["scope"] = "Choose read, or read and write."
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        errors["days"] = f"Between 1 and {settings.API_TOKEN_MAX_DAYS} days."
    if errors:
        raise ValidationError(errors)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic(), audit.acting(by=by, reason=f"API token made: {name}"):
        token = ApiToken.objects.create(
            user=by,
            name=name[:100],
            scope=scope,
            prefix=secret[: len(TOKEN_PREFIX) + 6],
            key_hash=token_hash(secret),
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
    return token, secret


def revoke_api_token(*, token: ApiToken, by) -> ApiToken:
    """End a token now. Its owner may revoke it, and so may a data manager."""
    if token.user_id != by.pk and not by.has_perm("accounts.change_user"):
        raise PermissionDenied("Only the token's owner or a data manager can revoke it.")
    with transaction.atomic(), audit.acting(by=by, reason=f"API token revoked: {token.name}"):
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
    return token


def token_of(secret: str, now) -> ApiToken | None:
    """The active token with this secret, with its user loaded as for a page's request."""
    token = (
        ApiToken.objects.filter(key_hash=token_hash(secret), revoked_at__isnull=True)
        .filter(expires_at__gt=now)
        .first()
    )
    if token is None:
        return None
    user = load_request_user(token.user_id)
    if user is None:
        return None
    token.user = user
    return token
