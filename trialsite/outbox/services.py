"""Hand work to the Celery workers through the outbox.

`enqueue` writes the task in the caller's transaction; once it commits, `relay` publishes it
at once if the broker answers (within a second or two), and otherwise leaves it for the next
relay: Celery beat runs `relay_outbox` every few seconds. Rows are claimed with
`SELECT ... FOR UPDATE SKIP LOCKED`, so two relays never publish one message, and a message is
marked sent only after the broker took it. A relay that dies between the two publishes it again
later: every task's effect is idempotent (an SAE e-mail is recorded once per recipient, a
reminder once per visit and kind, a document is claimed before it is rendered).
"""

import logging

from django.db import transaction
from django.utils import timezone

from trialsite.outbox.models import OutboxMessage

logger = logging.getLogger(__name__)


def enqueue(task: str, *args, **kwargs) -> OutboxMessage:
    """Queue `task(*args, **kwargs)` for a worker, in the current transaction."""
    message = OutboxMessage.objects.create(task=task, args=list(args), kwargs=kwargs)
    transaction.on_commit(lambda: relay(ids=[message.pk]))
    return message


def relay(*, limit: int = 200, ids: list[int] | None = None) -> int:
    """Publish pending messages (those of `ids`, or the oldest `limit`) to the broker; stop at
    the first the broker refuses. Returns how many were published. Never raises: whatever the
    broker does, the data the messages are about are already saved."""
    from trialsite.celery import app

    published = 0
    try:
        with transaction.atomic():
            pending = OutboxMessage.objects.select_for_update(skip_locked=True).filter(
                sent_at__isnull=True
            )
            if ids is not None:
                pending = pending.filter(pk__in=ids)
            for message in pending.order_by("id")[:limit]:
                message.attempts += 1
                try:
                    app.send_task(
                        message.task,
                        args=message.args,
                        kwargs=message.kwargs,
                        task_id=f"outbox-{message.pk}",
                        ignore_result=True,
                        retry=False,
                    )
                except Exception as error:  # noqa: BLE001 - the broker's failure, kept and retried
                    message.last_error = f"{type(error).__name__}: {error}"[:500]
                    message.save(update_fields=["attempts", "last_error"])
                    logger.warning("outbox: %s not published: %s", message, error)
                    break
                message.sent_at = timezone.now()
                message.last_error = ""
                message.save(update_fields=["attempts", "sent_at", "last_error"])
                published += 1
    except Exception:  # noqa: BLE001 - e.g. the database itself; the next relay tries again
        logger.exception("outbox: relay failed")
    return published
