"""Create the four study roles as groups with the permissions of trialsite/roles.py."""

from django.db import migrations

from trialsite import roles
from trialsite.audit.triggers import track_table


def create_roles(apps, schema_editor):
    roles.sync_roles(apps, using=schema_editor.connection.alias)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=roles.ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("enrollment", "0001_initial"),
        ("visits", "0001_initial"),
        ("outcomes", "0001_initial"),
        ("sites", "0001_initial"),
    ]

    operations = [
        # Role changes are part of the audit trail (ICH E6(R3) 4.2.2).
        track_table("auth_group_permissions"),
        migrations.RunPython(create_roles, remove_roles),
    ]
