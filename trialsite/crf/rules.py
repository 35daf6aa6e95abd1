"""Relative rules of dates, declared on their fields (trialsite/crf/fields.py):

- `past`: not after today, the day being the site's;
- `after_consent`: not before the day the participant consented (no study procedure, event
  or measurement after screening precedes consent; the screening visit's own records may).

and of items that may be missing for a reason (fields.MissingReasonField): a value and a
reason are not given together, and a required item has one of them.

They run in every model's `clean()` (trialsite.crf.models.Audited), so a ModelForm shows them
next to the field and every service that calls `full_clean()` refuses the same values.
"""

from datetime import date, datetime

from django.utils import timezone
from django.utils.text import capfirst

from trialsite import protocol
from trialsite.crf.fields import missing_reasons


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


def _empty(value) -> bool:
    return value is None or value == ""


def missing_errors(instance, exclude=()) -> dict[str, str]:
    """A value with a reason it is missing, or a required item with neither. Items in `exclude`
    (not on the form, or already refused by their own check) are left to it."""
    errors = {}
    for name, reason in missing_reasons(type(instance)).items():
        if name in exclude or reason.name in exclude:
            continue
        item = reason.item(type(instance))
        value, why = getattr(instance, item.attname), getattr(instance, reason.attname)
        if not _empty(value) and why:
            errors[reason.name] = (
                f"{capfirst(item.verbose_name)} has a value: leave the reason empty, "
                "or clear the value."
            )
        elif _empty(value) and not why and reason.item_required:
            errors[name] = f"Enter {item.verbose_name}, or choose why it is missing."
    return errors
