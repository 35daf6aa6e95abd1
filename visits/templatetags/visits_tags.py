from dataclasses import dataclass

from django import template

from visits.schedule import STATUS_LABELS, Status

register = template.Library()

CSS = {
    Status.SCHEDULED: "light",
    Status.WINDOW_OPEN: "info",
    Status.OVERDUE: "danger",
    Status.COMPLETED: "success",
    Status.MISSED: "dark",
}


@dataclass(frozen=True)
class ShownStatus:
    value: str
    label: str
    css: str


@register.filter
def visit_status(visit, today) -> ShownStatus:
    """A visit's status on `today` (the site's date), with its label and badge colour."""
    status = visit.status_on(today)
    return ShownStatus(status.value, STATUS_LABELS[status], CSS[status])
