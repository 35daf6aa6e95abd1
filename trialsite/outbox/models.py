"""The transactional outbox: work for the Celery workers, written in the same transaction as
the data it is about, so that a broker outage neither loses it nor fails the saved change
(trialsite/outbox/services.py relays it)."""

from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    task = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["id"], condition=models.Q(sent_at__isnull=True), name="outbox_pending"
            )
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.args} ({'sent' if self.sent_at else 'pending'})"
