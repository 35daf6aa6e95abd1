"""Dates and date-times in a plausible range (1900 to 2100) and free text of bounded length,
in forms (the fields' validators) and in the database (a CHECK on each column), with the
relative rules of each date declared on its field (trialsite/crf/fields.py)."""

import django.utils.timezone
from django.db import migrations

import trialsite.crf.fields


class Migration(migrations.Migration):
    dependencies = [
        ("outcomes", "0004_labels_for_the_data_dictionary"),
    ]

    operations = [
        migrations.AlterField(
            model_name="mri",
            name="created_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="mri",
            name="modified_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="mri",
            name="scanned_on",
            field=trialsite.crf.fields.PlausibleDateField(
                after_consent=True, past=True, verbose_name="date of MRI"
            ),
        ),
        migrations.AlterField(
            model_name="synovialbiomarkers",
            name="created_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="synovialbiomarkers",
            name="modified_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="synovialbiomarkers",
            name="sampled_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                after_consent=True, past=True, verbose_name="date and time of aspiration"
            ),
        ),
        migrations.AlterField(
            model_name="vaspain",
            name="assessed_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                after_consent=True, past=True, verbose_name="date and time of assessment"
            ),
        ),
        migrations.AlterField(
            model_name="vaspain",
            name="created_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="vaspain",
            name="modified_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="womac",
            name="created_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="womac",
            name="modified_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="xray",
            name="created_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="xray",
            name="modified_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="xray",
            name="taken_on",
            field=trialsite.crf.fields.PlausibleDateField(
                after_consent=True, past=True, verbose_name="date of radiograph"
            ),
        ),
        trialsite.crf.fields.add_column_checks("outcomes"),
    ]
