"""Source data verification, queries, signatures, and the documents and exports rendered from
the data (with the log of who exported or downloaded what). Locks are part of the CRF base
(trialsite.crf)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from trialsite.crf.fields import BoundedTextField, PlausibleDateTimeField
from trialsite.crf.models import Audited


class SourceVerification(Audited):
    """A monitor's mark that a CRF, at a given version, agrees with the source documents.

    A CRF counts as verified only while its version equals the verified one: any later change
    clears the mark, and the CRF appears in the re-verification list.
    """

    table_name = models.CharField(max_length=128)
    row_pk = models.CharField(max_length=64)
    participant = models.ForeignKey(
        "enrollment.Participant", on_delete=models.PROTECT, related_name="+"
    )
    version = models.PositiveIntegerField()
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = PlausibleDateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-verified_at"]
        indexes = [models.Index(fields=["table_name", "row_pk"])]

    def __str__(self) -> str:
        return f"SDV {self.table_name}#{self.row_pk} v{self.version}"


class DataQuery(Audited):
    """A question about one field of a CRF: Open → Answered → Closed (and reopened); kept for
    ever, with every message."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"
        CLOSED = "closed", "Closed"

    participant = models.ForeignKey(
        "enrollment.Participant", on_delete=models.PROTECT, related_name="+"
    )
    table_name = models.CharField(max_length=128)
    row_pk = models.CharField(max_length=64)
    field = models.CharField(max_length=64)
    field_label = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    automatic = models.BooleanField(default=False, help_text="Opened by a soft check.")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = PlausibleDateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["table_name", "row_pk"])]

    def __str__(self) -> str:
        return f"Query on {self.field_label}: {self.get_state_display()}"


class QueryMessage(Audited):
    class Kind(models.TextChoices):
        QUESTION = "question", "Question"
        ANSWER = "answer", "Answer"
        CLOSE = "close", "Closed"
        REOPEN = "reopen", "Reopened"

    audit_participant_column = ""

    query = models.ForeignKey(DataQuery, on_delete=models.PROTECT, related_name="messages")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    text = BoundedTextField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = PlausibleDateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.by}"


class Signature(Audited):
    """An investigator's electronic signature of a visit or of a whole casebook (21 CFR 11.50,
    11.70): printed name, time and meaning, bound to a SHA-256 of exactly the data signed."""

    MEANING = "Reviewed and approved"

    participant = models.ForeignKey(
        "enrollment.Participant", on_delete=models.PROTECT, related_name="+"
    )
    visit = models.ForeignKey(
        "visits.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    meaning = models.CharField(max_length=100, default=MEANING)
    printed_name = models.CharField(max_length=200)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = PlausibleDateTimeField(default=timezone.now)
    data_hash = models.CharField("SHA-256 of the signed data", max_length=64)
    # The rule that made the hash (monitoring/signatures.py): which records it covers.
    hash_version = models.PositiveSmallIntegerField(default=2)

    class Meta:
        ordering = ["-signed_at"]

    def __str__(self) -> str:
        what = self.visit.code if self.visit_id else "casebook"
        return f"{self.participant} {what} signed by {self.printed_name}"


class ExportLog(models.Model):
    """Who exported or downloaded what, and when (every export and PDF download)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    by_name = models.CharField(max_length=150, help_text="User name, or the system account.")
    what = models.CharField(max_length=200)
    at = PlausibleDateTimeField(default=timezone.now)
    document = models.ForeignKey(
        "Document", on_delete=models.PROTECT, null=True, blank=True, related_name="log"
    )

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.what} by {self.by_name} at {self.at:%Y-%m-%d %H:%M}"


class Document(models.Model):
    """A PDF or an export file, rendered by a Celery task and kept in Django's storage.

    `key` names what was asked for (kind, parameters and requester); `data_version` is the
    fingerprint of the audit trail the file was made from, so a file whose data have changed
    since is known to be stale. At most one rendering of a key is in flight at a time.
    """

    class Kind(models.TextChoices):
        BLANK_CRF = "blank_crf", "Blank annotated CRF"
        VISIT_CRFS = "visit_crfs", "Completed CRFs of a visit"
        CASEBOOK = "casebook", "Participant casebook"
        AE_LISTING = "ae_listing", "Adverse event listing"
        CSV_EXPORT = "csv_export", "CSV export"
        ODM_EXPORT = "odm_export", "CDISC ODM 1.3.2 export"
        ANALYSIS = "analysis", "Analysis file (CSV)"
        CONSORT = "consort", "CONSORT flow diagram"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RENDERING = "rendering", "In progress"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    IN_FLIGHT = (Status.QUEUED, Status.RENDERING)

    kind = models.CharField(max_length=12, choices=Kind.choices)
    params = models.JSONField(default=dict)
    key = models.CharField(max_length=64, db_index=True)
    title = models.CharField(max_length=200)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = PlausibleDateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    data_version = models.CharField(max_length=64, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    progress_label = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="documents/%Y/%m/", blank=True)
    filename = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = BoundedTextField(blank=True)
    started_at = PlausibleDateTimeField(null=True, blank=True)
    finished_at = PlausibleDateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=models.Q(status__in=["queued", "rendering"]),
                name="monitoring_document_one_in_flight",
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"

    @property
    def in_flight(self) -> bool:
        return self.status in self.IN_FLIGHT

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 0
        return min(100, round(100 * self.progress_done / self.progress_total))
