"""Participants. Clinical tables hold study IDs only: no names or contact details."""

from django.db import models
from django.utils import timezone

from trialsite.crf import Audited


class ParticipantQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ParticipantQuerySet":
        """Participants of the user's sites; nobody sees another site's participants."""
        return self.filter(site_id__in=user.site_ids)


class Participant(Audited):
    audit_participant_column = "id"

    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="participants")
    participant_id = models.CharField("participant ID", max_length=20, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        ordering = ["participant_id"]

    def __str__(self) -> str:
        return self.participant_id
