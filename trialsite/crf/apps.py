from django.apps import AppConfig


class CrfConfig(AppConfig):
    name = "trialsite.crf"
    label = "crf"
    verbose_name = "Case report forms"
