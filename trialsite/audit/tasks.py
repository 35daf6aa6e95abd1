"""Celery tasks of the audit trail."""

from celery import shared_task

from trialsite.audit import chain, settled


@shared_task
def seal_audit_trail() -> int:
    """Chain the audit rows committed since the last seal, and count those of the transactions
    that have ended since (every minute, from beat)."""
    position = chain.seal().position
    settled.settle()
    return position
