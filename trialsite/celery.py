"""The Celery application: reminders, notifications, PDF rendering and exports."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trialsite.settings")

app = Celery("trialsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def load_weasyprint(**_) -> None:
    """Load WeasyPrint (about a second) once in the worker's main process, before the pool
    forks: every pool process then starts PDFs and parts of PDFs without that wait."""
    import weasyprint  # noqa: F401
