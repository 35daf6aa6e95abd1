from django.apps import AppConfig


class SafetyConfig(AppConfig):
    """Adverse events and SAE reporting (issue 6)."""

    name = "safety"
    verbose_name = "Safety"
