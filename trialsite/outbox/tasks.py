from celery import shared_task

from trialsite.outbox.services import relay


@shared_task(ignore_result=True)
def relay_outbox() -> int:
    """Every few seconds (Celery beat): publish what the outbox holds."""
    return relay()
