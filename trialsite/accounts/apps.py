from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "trialsite.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from trialsite import roles

        # Roles are code: after every migrate (and after a test flush) the groups are set back to
        # exactly what trialsite/roles.py says. This is set-up, not workflow.
        post_migrate.connect(roles.sync_roles_after_migrate, sender=self)
