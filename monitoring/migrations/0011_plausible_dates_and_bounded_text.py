"""Dates and date-times in a plausible range (1900 to 2100) and free text of bounded length,
in forms (the fields' validators) and in the database (a CHECK on each column), with the
relative rules of each date declared on its field (trialsite/crf/fields.py)."""

import django.utils.timezone
from django.db import migrations

import trialsite.crf.fields


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0010_audit_documents_and_export_log"),
    ]

    operations = [
        migrations.AlterField(
            model_name="dataquery",
            name="opened_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="document",
            name="error",
            field=trialsite.crf.fields.BoundedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name="document",
            name="finished_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="document",
            name="requested_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="document",
            name="started_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="exportlog",
            name="at",
            field=trialsite.crf.fields.PlausibleDateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="querymessage",
            name="at",
            field=trialsite.crf.fields.PlausibleDateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="querymessage",
            name="text",
            field=trialsite.crf.fields.BoundedTextField(),
        ),
        migrations.AlterField(
            model_name="signature",
            name="signed_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="sourceverification",
            name="verified_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(default=django.utils.timezone.now),
        ),
        trialsite.crf.fields.add_column_checks("monitoring"),
    ]
