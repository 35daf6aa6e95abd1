"""Relative rules of dates, declared on their fields (trialsite/crf/fields.py):

- `past`: not after today, the day being the site's;
- `after_consent`: not before the day the participant consented (no study procedure, event
  or measurement after screening precedes consent; the screening visit's own records may).

They run in every model's `clean()` (trialsite.crf.models.Audited), so a ModelForm shows them
next to the field and every service that calls `full_clean()` refuses the same values.
"""

from datetime import date, datetime

from django.utils import timezone

from trialsite import protocol


def _day(value, zone) -> date | None:
    if isinstance(value, datetime):
        return timezone.localtime(value, zone).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    return None  # not a date (a field that failed its own validation)


def _site(instance):
    site = getattr(instance, "site", None) if getattr(instance, "site_id", None) else None
    if site is None and getattr(instance, "participant_id", None):
        site = instance.participant.site
    if site is None and getattr(instance, "screening_id", None):
        site = instance.screening.site
    return site


def _zone(instance):
    site = _site(instance)
    return site.zone if site is not None else timezone.get_current_timezone()


def consent_day(participant, zone) -> date | None:
    consent = getattr(getattr(participant, "screening", None), "consent", None)
    return _day(consent.consented_at, zone) if consent is not None else None


def _at_screening(instance) -> bool:
    """A record of the screening visit (the schedule's first): this workflow screens before it
    records consent, so screening assessments are not held to the consent date."""
    visit = instance if hasattr(instance, "window_opens") else None
    if visit is None and getattr(instance, "visit_id", None):
        visit = instance.visit
    return getattr(visit, "code", None) == protocol.VISIT_SCHEDULE[0].code


def relative_errors(instance) -> dict[str, str]:
    fields = [
        f
        for f in instance._meta.concrete_fields
        if getattr(f, "past", False) or getattr(f, "after_consent", False)
    ]
    if not fields:
        return {}
    site = _site(instance)
    zone = _zone(instance)
    # The site's day (Site.today); study-wide records (lots) use the zone of the request.
    today = site.today() if site is not None else timezone.localdate(timezone.now(), zone)
    participant = None
    if getattr(instance, "participant_id", None) is not None and not _at_screening(instance):
        participant = instance.participant
    consented = consent_day(participant, zone) if participant is not None else None
    errors = {}
    for field in fields:
        day = _day(getattr(instance, field.attname), zone)
        if day is None:
            continue
        if field.past and day > today:
            errors[field.name] = "This cannot be in the future."
        elif field.after_consent and consented is not None and day < consented:
            errors[field.name] = f"This cannot be before consent ({consented:%Y-%m-%d})."
    return errors
