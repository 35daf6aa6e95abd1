"""The lock model now belongs to the CRF base (trialsite.crf, migration crf/0001): it leaves
this app's migration state; its table, rows and triggers stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0006_document"),
        ("crf", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Lock")],
            database_operations=[],
        ),
    ]
