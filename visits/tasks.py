from celery import shared_task

from visits import reminders


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=60, max_retries=5)
def send_visit_reminders() -> int:
    """Daily (Celery beat): e-mail coordinators about visits due soon and overdue visits."""
    return reminders.send_visit_reminders()
