"""Session rules that apply to every page: the absolute lifetime and the second factor."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django_htmx.http import HttpResponseClientRedirect
from django_otp import user_has_device

from trialsite.accounts.security import needs_second_factor, session_expired

SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"
NO_DEVICE = "no_second_factor"
# Pages a user who still owes the second factor may open.
_OPEN = ("two_factor", "two_factor_setup", "logout", "health")


class SessionPolicyMiddleware:
    """After AuthenticationMiddleware and django_otp's OTPMiddleware.

    - Ends the session `SESSION_ABSOLUTE_SECONDS` after the log-in, however busy. A new
      session (Django rotates it at log-in) is stamped on its first request.
    - Keeps the idle limit (the session's age, `SESSION_COOKIE_AGE`) without writing the
      session on every page: it is saved, and its expiry moved, when it changed or when it was
      last moved `SESSION_TOUCH_SECONDS` ago or more. So a session ends after at most the idle
      limit, and at least that limit less a minute, without a request.
    - Sends a user who needs a second factor and has not given it (this session) to the page
      that asks for it, or to enrolment when they have none yet.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated:
            now = time.time()
            signed_in_at = request.session.setdefault(SIGNED_IN_AT, now)
            if session_expired(signed_in_at, now, settings.SESSION_ABSOLUTE_SECONDS):
                logout(request)
                hours = settings.SESSION_ABSOLUTE_SECONDS / 3600
                messages.info(request, f"Sessions end {hours:g} hours after log-in: log in again.")
                return redirect(f"{reverse('login')}?next={request.path}")
            if now - request.session.get(SEEN_AT, 0) >= settings.SESSION_TOUCH_SECONDS:
                request.session[SEEN_AT] = now
            request.second_factor_pending = not user.is_verified() and _owes_second_factor(request)
            if request.second_factor_pending and _name(request) not in _OPEN:
                target = f"{reverse('two_factor')}?next={request.path}"
                if getattr(request, "htmx", False):  # the whole page goes, not a fragment
                    return HttpResponseClientRedirect(target)
                return redirect(target)
        return self.get_response(request)


def _owes_second_factor(request) -> bool:
    """Required by the role, or enrolled anyway. Whether a user without the requirement has
    a device is read once per session (enrolling verifies the session at once)."""
    if needs_second_factor(request.user):
        return True
    if NO_DEVICE not in request.session:
        request.session[NO_DEVICE] = not user_has_device(request.user)
    return not request.session[NO_DEVICE]


def _name(request) -> str | None:
    try:
        return resolve(request.path_info).url_name
    except Resolver404:
        return None
