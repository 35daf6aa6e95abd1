"""Visit reminders: e-mail each site's coordinators about visits whose window opens soon and
about overdue visits. Each (visit, kind) is e-mailed at most once (ReminderSent's unique key).
"""

from datetime import date, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from trialsite import roles
from trialsite.accounts.models import User
from trialsite.sites.models import Site
from visits.models import ReminderSent, Visit
from visits.selectors import in_follow_up
from visits.services import site_today


def _due(site: Site, today: date) -> list[tuple[Visit, str]]:
    """(visit, kind) pairs due today at `site`, from current data; withdrawn participants none."""
    ahead = today + timedelta(days=settings.VISIT_REMINDER_DAYS_AHEAD)
    visits = (
        Visit.objects.filter(
            in_follow_up("participant__"),
            participant__site=site,
            visit_date__isnull=True,
            missed_reason="",
            window_opens__isnull=False,
        )
        .select_related("participant")
        .order_by("window_opens", "participant__participant_id")
    )
    due = []
    for visit in visits:
        if visit.window_closes < today:
            due.append((visit, ReminderSent.Kind.OVERDUE))
        elif today <= visit.window_opens <= ahead:
            due.append((visit, ReminderSent.Kind.WINDOW_OPENING))
    return due


def _line(visit: Visit, kind: str) -> str:
    if kind == ReminderSent.Kind.OVERDUE:
        return (
            f"- {visit.participant.participant_id} {visit.code} ({visit.label}) is OVERDUE: its "
            f"window closed on {visit.window_closes:%Y-%m-%d}."
        )
    return (
        f"- {visit.participant.participant_id} {visit.code} ({visit.label}): window "
        f"{visit.window_opens:%Y-%m-%d} to {visit.window_closes:%Y-%m-%d}, target "
        f"{visit.target_date:%Y-%m-%d}."
    )


def send_site_reminders(site: Site) -> int:
    """Claim and e-mail the reminders due at one site; returns how many were sent.

    The claims and the e-mail share one transaction: if sending fails nothing is claimed and
    the next run tries again; a second worker running at the same moment waits on the unique
    key and then finds the reminders claimed. Only a crash after the mail server accepted the
    message and before the commit could send it again (at least once on that edge).
    """
    recipients = list(
        User.objects.filter(sites=site, groups__name=roles.COORDINATOR, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    if not recipients:
        return 0
    with transaction.atomic():
        claimed = []
        for visit, kind in _due(site, site_today(site)):
            try:
                with transaction.atomic():
                    ReminderSent.objects.create(visit=visit, kind=kind, recipients=recipients)
            except IntegrityError:
                continue  # already sent
            claimed.append((visit, kind))
        if not claimed:
            return 0
        body = "\n".join(
            [f"Visits at {site.name} that need attention:", ""]
            + [_line(visit, kind) for visit, kind in claimed]
            + ["", "Open the visit calendar in trialsite for details."]
        )
        send_mail(
            subject=f"[trialsite {site.code}] {len(claimed)} visit reminder(s)",
            message=body,
            from_email=None,
            recipient_list=recipients,
        )
        return len(claimed)


def send_visit_reminders() -> int:
    return sum(send_site_reminders(site) for site in Site.objects.filter(is_active=True))
