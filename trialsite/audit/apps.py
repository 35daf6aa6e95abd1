from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "trialsite.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from trialsite.audit import grants

        # After every migrate, the application's role gets rights on new tables (and only read
        # rights on the audit trail). This is database set-up, not workflow.
        post_migrate.connect(grants.grant_app_role_after_migrate, sender=self)
