"""Trial sites. Each participant belongs to one site; each user works at one or more."""

import zoneinfo
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from trialsite import protocol


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone, e.g. Asia/Karachi.")


class Site(models.Model):
    code = models.CharField(
        max_length=8,
        unique=True,
        help_text="Short code used in participant IDs, e.g. LHR.",
    )
    name = models.CharField(max_length=200)
    time_zone = models.CharField(
        max_length=64,
        default=protocol.DEFAULT_SITE_TIME_ZONE,
        validators=[validate_time_zone],
        help_text="Times are shown, and visit windows counted, in this zone.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    # "Today" and "the day of" for a site: the one definition that forms, services, Celery
    # tasks and management commands use, whatever zone the request or process is in.
    def today(self) -> date:
        return timezone.localtime(timezone.now(), self.zone).date()

    def local_date(self, moment: datetime) -> date:
        """The calendar day of an aware moment at this site."""
        return timezone.localtime(moment, self.zone).date()
