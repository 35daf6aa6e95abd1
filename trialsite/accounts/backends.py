"""Authentication backend: Django's, with the signed-in user loaded in one query per request.

Every page needs the user's role, sites, time zone and permissions (menus, site filters,
times). Django's backend loads the user, then each of these with a query of its own; here
they come with the user as arrays, and fill the caches the user object and Django's
permission checks read (`site_ids`, `time_zone`, `role_names`, `_perm_cache`).
"""

from functools import cache

from django.contrib.auth.backends import ModelBackend

from trialsite.accounts.models import User, with_request_data


class RequestUserBackend(ModelBackend):
    def get_user(self, user_id):
        user = load_request_user(user_id)
        if user is None or not self.user_can_authenticate(user):
            return None
        return user


# A user id no row has: where the query's compiled SQL takes the id (_request_user_sql).
_ANY_ID = -7_319_000_001


@cache
def _request_user_sql() -> tuple[str, tuple, int]:
    """The SQL of with_request_data for one user, compiled once per process (its four array
    subqueries take Django about 5 ms to compile, on every request), and where the user's id
    goes among its parameters."""
    query = with_request_data(User._default_manager).filter(pk=_ANY_ID).query
    sql, params = query.sql_with_params()
    return sql, params, params.index(_ANY_ID)


def load_request_user(user_id) -> User | None:
    """The user, with their sites, time zone, roles and permissions, in one query."""
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return None
    sql, params, at = _request_user_sql()
    user = next(iter(User.objects.raw(sql, (*params[:at], user_id, *params[at + 1 :]))), None)
    if user is None or not user.is_active:
        return None
    user.__dict__["site_ids"] = frozenset(user.request_site_ids)
    user.__dict__["time_zone"] = user.request_time_zone
    user.__dict__["role_names"] = frozenset(user.request_roles)
    if not user.is_superuser:  # a superuser holds every permission: Django lists them
        user._perm_cache = {*user.request_permissions, *user.request_group_permissions}
    return user
