"""Who needs what to sign in: the rules, with no database of their own.

- A second factor (TOTP, with recovery codes) is required of investigators, monitors, data
  managers and staff (ASVS 2.8); coordinators may enrol too.
- A session ends after `settings.SESSION_IDLE_SECONDS` idle (Django's cookie age) and, however
  busy, `settings.SESSION_ABSOLUTE_SECONDS` after the log-in (ASVS 3.3.2).
"""

from trialsite import roles

SECOND_FACTOR_ROLES = frozenset({roles.INVESTIGATOR, roles.MONITOR, roles.DATA_MANAGER})


def needs_second_factor(user) -> bool:
    if not user.is_authenticated:
        return False
    return user.is_staff or user.is_superuser or bool(user.role_names & SECOND_FACTOR_ROLES)


def session_expired(signed_in_at: float, now: float, lifetime: float) -> bool:
    return now - signed_in_at >= lifetime
