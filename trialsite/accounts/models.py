"""Users of the EDC. A user belongs to one or more sites and sees only those sites' data."""

from functools import cached_property

from django.contrib.auth.models import AbstractUser, Group
from django.contrib.postgres.expressions import ArraySubquery
from django.db import models
from django.db.models import F, OuterRef, Subquery, Value
from django.db.models.functions import Concat

from trialsite.crf.fields import BoundedTextField, PlausibleDateTimeField
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
    # The user's own permissions and their groups', each path read by its index (joining both
    # to the permissions and filtering on either read every user's groups: 3,000 rows at 100
    # users).
    dotted = Concat(F("permission__content_type__app_label"), Value("."), F("permission__codename"))
    own = User.user_permissions.through.objects.filter(user=user).values_list(dotted)
    of_groups = Group.permissions.through.objects.filter(group__user=user).values_list(dotted)
    return users.annotate(
        request_site_ids=ArraySubquery(sites.values("pk")),
        request_time_zone=Subquery(sites.values("time_zone")[:1]),
        request_roles=ArraySubquery(
            User.groups.through.objects.filter(user=user).values("group__name")
        ),
        request_permissions=ArraySubquery(own),
        request_group_permissions=ArraySubquery(of_groups),
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


class ApiToken(models.Model):
    """A user's personal token for the API (/api/v1/): it acts as its user, with the user's
    sites, role and blinding, reading only or reading and writing. Only a SHA-256 of the
    secret is kept (the secret is shown once, when the token is made); a token ends at its
    expiry or when revoked."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        READ_WRITE = "read-write", "Read and write"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for.")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    # The first characters of the secret, to tell tokens apart; never enough to use one.
    prefix = models.CharField(max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = PlausibleDateTimeField(editable=False)
    expires_at = PlausibleDateTimeField()
    revoked_at = PlausibleDateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def writes(self) -> bool:
        return self.scope == self.Scope.READ_WRITE

    def active_at(self, when) -> bool:
        return self.revoked_at is None and when < self.expires_at


class ApiTokenUse(models.Model):
    """One request made with a token: who, when, which endpoint, how it ended and how many
    records it returned (the token's log; rows are only ever added)."""

    token = models.ForeignKey(ApiToken, on_delete=models.PROTECT, related_name="uses")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    at = PlausibleDateTimeField()
    method = models.CharField(max_length=10)
    path = BoundedTextField(max_length=2000)
    status = models.PositiveSmallIntegerField()
    records = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["token", "-at"], name="api_token_uses")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"
