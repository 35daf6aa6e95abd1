from celery import shared_task
from django.conf import settings

from monitoring import documents


@shared_task(acks_late=True, soft_time_limit=settings.DOCUMENT_RENDER_TIME_LIMIT)
def render_document_task(document_id: int) -> str:
    """Render a PDF or an export (WeasyPrint, CSV, ODM); a failure is recorded on the document."""
    return documents.render_document(document_id).status
