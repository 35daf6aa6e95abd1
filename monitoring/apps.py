from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Queries, source data verification, signatures, locks, PDFs and exports (issues 7, 8)."""

    name = "monitoring"
    verbose_name = "Monitoring and data management"
