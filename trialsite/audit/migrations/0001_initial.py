from django.db import migrations, models

from trialsite.audit.triggers import CREATE_AUDIT_TABLE, DROP_AUDIT_TABLE


class Migration(migrations.Migration):
    initial = True

    dependencies: list = []

    operations = [
        migrations.RunSQL(CREATE_AUDIT_TABLE, DROP_AUDIT_TABLE),
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("occurred_at", models.DateTimeField()),
                ("table_name", models.CharField(max_length=128)),
                ("row_pk", models.CharField(max_length=64, null=True)),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("INSERT", "Created"),
                            ("UPDATE", "Changed"),
                            ("DELETE", "Deleted"),
                            ("TRUNCATE", "Table emptied"),
                        ],
                        max_length=8,
                    ),
                ),
                ("old_values", models.JSONField(null=True)),
                ("new_values", models.JSONField(null=True)),
                ("changed_fields", models.JSONField(default=list)),
                ("participant_id", models.BigIntegerField(null=True)),
                ("user_id", models.BigIntegerField(null=True)),
                ("username", models.CharField(max_length=150, null=True)),
                ("reason", models.TextField(null=True)),
                ("db_role", models.CharField(max_length=128)),
                ("transaction_id", models.BigIntegerField()),
            ],
            options={
                "db_table": "audit_event",
                "ordering": ["id"],
                "managed": False,
                "default_permissions": ("view",),
            },
        ),
    ]
