"""Dates and date-times in a plausible range (1900 to 2100) and free text of bounded length,
in forms (the fields' validators) and in the database (a CHECK on each column), with the
relative rules of each date declared on its field (trialsite/crf/fields.py)."""

import django.utils.timezone
from django.db import migrations

import trialsite.crf.fields


class Migration(migrations.Migration):
    dependencies = [
        ("safety", "0003_drop_ae_listing_pdf"),
    ]

    operations = [
        migrations.AlterField(
            model_name="adverseevent",
            name="awareness_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                after_consent=True,
                blank=True,
                help_text="Required for a serious event.",
                null=True,
                past=True,
                verbose_name="site became aware at",
            ),
        ),
        migrations.AlterField(
            model_name="adverseevent",
            name="created_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="adverseevent",
            name="end_date",
            field=trialsite.crf.fields.PlausibleDateField(
                after_consent=True, blank=True, null=True, past=True, verbose_name="end date"
            ),
        ),
        migrations.AlterField(
            model_name="adverseevent",
            name="modified_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="adverseevent",
            name="onset_date",
            field=trialsite.crf.fields.PlausibleDateField(
                after_consent=True, past=True, verbose_name="onset date"
            ),
        ),
        migrations.AlterField(
            model_name="adverseevent",
            name="signed_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="saenotification",
            name="sent_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(default=django.utils.timezone.now),
        ),
        trialsite.crf.fields.add_column_checks("safety"),
    ]
