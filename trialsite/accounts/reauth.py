"""Asking a signed-in user for their password again (signatures, password change).

A wrong password there counts toward the account lockout exactly as a failed log-in does
(django-axes, keyed by user name): otherwise the signature prompt would be an unthrottled
password oracle. When the account locks, the user is logged out.
"""

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import logout
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import render


class LockedOut(Exception):
    pass


def check_password(request, password: str) -> bool:
    """Whether `password` is the signed-in user's; a wrong one is counted. Raises LockedOut."""
    user = request.user
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        raise LockedOut
    if user.check_password(password):
        return True
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    if AxesProxyHandler.is_locked(request, credentials):
        raise LockedOut
    return False


def refused(request, password: str):
    """For a signature prompt: count a wrong password (the service then refuses it with its
    own message); when the account locks, the page that says so, else None."""
    try:
        check_password(request, password)
    except LockedOut:
        return locked_out(request)
    return None


def locked_out(request):
    """Log the user out and say why."""
    logout(request)
    return render(request, "registration/locked_out.html", status=429)
