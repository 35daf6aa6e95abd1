from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Audit viewer and locks now; queries, SDV, signatures, PDFs and exports to come."""

    name = "monitoring"
    verbose_name = "Monitoring and data management"
