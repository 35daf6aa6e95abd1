"""Authentication backend: Django's, with the signed-in user loaded in one query per request.

Every page needs the user's role, sites, time zone and permissions (menus, site filters,
times). Django's backend loads the user, then each of these with a query of its own; here
they come with the user as arrays, and fill the caches the user object and Django's
permission checks read (`site_ids`, `time_zone`, `role_names`, `_perm_cache`).
"""

from django.contrib.auth.backends import ModelBackend

from trialsite.accounts.models import User, with_request_data


class RequestUserBackend(ModelBackend):
    def get_user(self, user_id):
        user = load_request_user(user_id)
        if user is None or not self.user_can_authenticate(user):
            return None
        return user


def load_request_user(user_id) -> User | None:
    """The user, with their sites, time zone, roles and permissions, in one query."""
    try:
        user = with_request_data(User._default_manager).get(pk=user_id)
    except User.DoesNotExist:
        return None
    if not user.is_active:
        return None
    user.__dict__["site_ids"] = frozenset(user.request_site_ids)
    user.__dict__["time_zone"] = user.request_time_zone
    user.__dict__["role_names"] = frozenset(user.request_roles)
    if not user.is_superuser:  # a superuser holds every permission: Django lists them
        user._perm_cache = set(user.request_permissions)
    return user
