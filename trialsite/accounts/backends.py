"""Authentication backend: Django's, with the signed-in user loaded in one query per request.

Every page needs the user's role, sites, time zone and permissions (menus, site filters,
times). Django's backend loads the user, then each of these with a query of its own; here
they come with the user as arrays, and fill the caches the user object and Django's
permission checks read (`site_ids`, `time_zone`, `role_names`, `_perm_cache`).
"""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Concat

from trialsite.accounts.models import User
from trialsite.sites.models import Site


def _with_request_data(users):
    user = OuterRef("pk")
    sites = Site.objects.filter(users=user).order_by("pk")
    permissions = (
        Permission.objects.filter(Q(user=user) | Q(group__user=user))
        .annotate(dotted=Concat(F("content_type__app_label"), Value("."), F("codename")))
        .values("dotted")
        .distinct()
    )
    return users.annotate(
        request_site_ids=ArraySubquery(sites.values("pk")),
        request_time_zone=Subquery(sites.values("time_zone")[:1]),
        request_roles=ArraySubquery(
            User.groups.through.objects.filter(user=user).values("group__name")
        ),
        request_permissions=ArraySubquery(permissions),
    )


class RequestUserBackend(ModelBackend):
    def get_user(self, user_id):
        try:
            user = _with_request_data(User._default_manager).get(pk=user_id)
        except User.DoesNotExist:
            return None
        if not self.user_can_authenticate(user):
            return None
        user.__dict__["site_ids"] = frozenset(user.request_site_ids)
        user.__dict__["time_zone"] = user.request_time_zone
        user.__dict__["role_names"] = frozenset(user.request_roles)
        if not user.is_superuser:  # a superuser holds every permission: Django lists them
            user._perm_cache = set(user.request_permissions)
        return user
