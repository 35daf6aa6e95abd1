"""The Celery application: reminders, notifications, PDF rendering and exports."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trialsite.settings")

app = Celery("trialsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
