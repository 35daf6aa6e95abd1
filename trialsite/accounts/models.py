"""Users of the EDC. A user belongs to one or more sites and sees only those sites' data."""

from functools import cached_property

from django.contrib.auth.models import AbstractUser, Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.db import models
from django.db.models import F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Concat

from trialsite.sites.models import Site


class User(AbstractUser):
    sites = models.ManyToManyField(Site, blank=True, related_name="users")
    is_blinded_assessor = models.BooleanField(
        "blinded assessor",
        default=False,
        help_text="An outcome assessor (e.g. imaging reader): never shown a participant's arm.",
    )

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.printed_name

    @property
    def printed_name(self) -> str:
        """The name shown on signatures and in the audit trail (21 CFR 11.50)."""
        return self.get_full_name() or self.username

    @property
    def sees_arm(self) -> bool:
        return not self.is_blinded_assessor

    @cached_property
    def site_ids(self) -> frozenset[int]:
        return frozenset(self.sites.values_list("pk", flat=True))

    @cached_property
    def time_zone(self) -> str | None:
        return self.sites.order_by("pk").values_list("time_zone", flat=True).first()

    @cached_property
    def role_names(self) -> frozenset[str]:
        return frozenset(group.name for group in self.groups.all())  # prefetch_related("groups")


def with_request_data(users):
    """`users` with what every request needs of the signed-in user, by the rules of the
    properties above (`site_ids`, `time_zone`: the first site's, `role_names`, and the
    permissions Django's ModelBackend would list), read in the same query
    (trialsite/accounts/backends.py)."""
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


class Capability(models.Model):
    """Holds study-wide permissions that belong to no single model (no table)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("randomize_participant", "Can randomize a participant"),
            ("sign_records", "Can sign records as investigator"),
            ("review_adverse_events", "Can review adverse events"),
            ("verify_source_data", "Can mark data source-verified"),
            ("raise_query", "Can raise and close data queries"),
            ("answer_query", "Can answer data queries"),
            ("lock_data", "Can lock and unlock data"),
            ("export_data", "Can export data and PDF casebooks"),
            ("view_audit_trail", "Can view the audit trail"),
            ("release_lot", "Can decide the QA release of a secretome lot"),
            ("review_data_quality", "Can see the data-quality report"),
        ]

    def __str__(self) -> str:
        return "study capability"
