"""Every change to users, roles (groups), permissions and site memberships is in the audit
trail: groups, permissions and users' individual permissions are now tracked too. A password
change is recorded by name, without the hash; the time of the last log-in is left out."""

from django.db import migrations

from trialsite.audit.triggers import attach_sql, detach_sql, track_table

USER_TRIGGER = detach_sql("accounts_user") + attach_sql(
    "accounts_user", exclude=("password", "~last_login")
)
OLD_USER_TRIGGER = detach_sql("accounts_user") + attach_sql(
    "accounts_user", exclude=("password", "last_login")
)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_roles"),
        ("audit", "0002_chain_and_safe_search_path"),
    ]

    operations = [
        migrations.RunSQL(USER_TRIGGER, OLD_USER_TRIGGER),
        track_table("auth_group"),
        track_table("auth_permission"),
        track_table("accounts_user_user_permissions"),
    ]
