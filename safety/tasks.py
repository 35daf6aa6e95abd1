from smtplib import SMTPException

from celery import shared_task
from django.conf import settings

from safety import services


@shared_task(bind=True, acks_late=True, max_retries=10)
def notify_sae(self, ae_id: int) -> bool:
    """E-mail the investigators and safety contacts about a serious adverse event; retried
    while the mail server fails (each retry sends only what was not sent)."""
    try:
        return services.send_sae_notification(ae_id=ae_id, kind="initial")
    except (OSError, SMTPException) as error:
        raise self.retry(exc=error, countdown=settings.SAE_NOTIFY_RETRY_SECONDS) from error


@shared_task(acks_late=True)
def escalate_overdue_saes() -> int:
    """Every 15 minutes (Celery beat): e-mail once about each overdue SAE assessment."""
    return services.escalate_overdue_saes()
