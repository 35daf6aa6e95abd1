"""Dates and date-times in a plausible range (1900 to 2100) and free text of bounded length,
in forms (the fields' validators) and in the database (a CHECK on each column), with the
relative rules of each date declared on its field (trialsite/crf/fields.py)."""

import django.utils.timezone
from django.db import migrations

import trialsite.crf.fields


class Migration(migrations.Migration):
    dependencies = [
        ("crf", "0002_lock_functions"),
    ]

    operations = [
        migrations.AlterField(
            model_name="lock",
            name="locked_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="lock",
            name="unlock_reason",
            field=trialsite.crf.fields.BoundedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name="lock",
            name="unlocked_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(blank=True, null=True),
        ),
        trialsite.crf.fields.add_column_checks("crf"),
    ]
