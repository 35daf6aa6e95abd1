from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "trialsite.sites"
    label = "sites"
    verbose_name = "Sites"
