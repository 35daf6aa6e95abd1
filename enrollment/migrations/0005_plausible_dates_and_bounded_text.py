"""Dates and date-times in a plausible range (1900 to 2100) and free text of bounded length,
in forms (the fields' validators) and in the database (a CHECK on each column), with the
relative rules of each date declared on its field (trialsite/crf/fields.py)."""

import django.utils.timezone
from django.db import migrations

import trialsite.crf.fields


class Migration(migrations.Migration):
    dependencies = [
        ("enrollment", "0004_slots_and_arms_held_by_the_database"),
    ]

    operations = [
        migrations.AlterField(
            model_name="consent",
            name="consented_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                past=True, verbose_name="date and time of consent"
            ),
        ),
        migrations.AlterField(
            model_name="consent",
            name="created_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="consent",
            name="modified_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="consent",
            name="withdrawal_note",
            field=trialsite.crf.fields.BoundedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name="consent",
            name="withdrawn_on",
            field=trialsite.crf.fields.PlausibleDateField(
                blank=True, null=True, past=True, verbose_name="consent withdrawn on"
            ),
        ),
        migrations.AlterField(
            model_name="participant",
            name="randomized_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(),
        ),
        migrations.AlterField(
            model_name="randomizationlist",
            name="imported_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="randomizationslot",
            name="allocated_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="screening",
            name="created_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="screening",
            name="date_of_birth",
            field=trialsite.crf.fields.PlausibleDateField(past=True),
        ),
        migrations.AlterField(
            model_name="screening",
            name="decided_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                editable=False, verbose_name="eligibility decided at"
            ),
        ),
        migrations.AlterField(
            model_name="screening",
            name="modified_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="screening",
            name="screening_date",
            field=trialsite.crf.fields.PlausibleDateField(past=True),
        ),
        trialsite.crf.fields.add_column_checks("enrollment"),
    ]
