from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "trialsite.outbox"
    label = "outbox"
    verbose_name = "Work for the Celery workers"
