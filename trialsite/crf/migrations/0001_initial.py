"""The lock model moves from the monitoring app to the CRF base (trialsite.crf), in the
migration state only: its table keeps its name (monitoring_lock), rows and triggers. Its
content type follows, so that permissions granted on it stay granted."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="crf", model="lock").exists():
        ContentType.objects.filter(app_label="monitoring", model="lock").update(app_label="crf")


def move_content_type_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="monitoring", model="lock").exists():
        ContentType.objects.filter(app_label="crf", model="lock").update(app_label="monitoring")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("enrollment", "0001_initial"),
        ("monitoring", "0006_document"),
        ("visits", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Lock",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "scope",
                            models.CharField(
                                choices=[
                                    ("study", "Whole study"),
                                    ("participant", "Participant"),
                                    ("visit", "Visit"),
                                    ("record", "Record"),
                                ],
                                max_length=12,
                            ),
                        ),
                        ("table_name", models.CharField(blank=True, max_length=128)),
                        ("row_pk", models.CharField(blank=True, max_length=64)),
                        ("description", models.CharField(max_length=200)),
                        ("locked_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("unlocked_at", models.DateTimeField(blank=True, null=True)),
                        ("unlock_reason", models.TextField(blank=True)),
                        (
                            "locked_by",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "participant",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="enrollment.participant",
                            ),
                        ),
                        (
                            "unlocked_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "visit",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="visits.visit",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "monitoring_lock",
                        "ordering": ["-locked_at"],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    models.Q(
                                        ("participant__isnull", True),
                                        ("scope", "study"),
                                        ("visit__isnull", True),
                                    ),
                                    models.Q(
                                        ("participant__isnull", False), ("scope", "participant")
                                    ),
                                    models.Q(("scope", "visit"), ("visit__isnull", False)),
                                    models.Q(
                                        ("scope", "record"),
                                        models.Q(("table_name", ""), _negated=True),
                                        models.Q(("row_pk", ""), _negated=True),
                                    ),
                                    _connector="OR",
                                ),
                                name="monitoring_lock_target",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("unlocked_at__isnull", True),
                                    models.Q(("unlock_reason", ""), _negated=True),
                                    _connector="OR",
                                ),
                                name="monitoring_unlock_reason",
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back, elidable=False),
    ]
