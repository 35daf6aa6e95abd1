from smtplib import SMTPException

from celery import shared_task

from safety import services


@shared_task(
    acks_late=True,
    autoretry_for=(OSError, SMTPException),
    retry_backoff=30,
    retry_backoff_max=300,
    max_retries=10,
)
def notify_sae(ae_id: int) -> bool:
    """E-mail the investigators and safety contacts about a serious adverse event."""
    return services.send_sae_notification(ae_id=ae_id, kind="initial")


@shared_task(acks_late=True)
def escalate_overdue_saes() -> int:
    """Every 15 minutes (Celery beat): e-mail once about each overdue SAE assessment."""
    return services.escalate_overdue_saes()
