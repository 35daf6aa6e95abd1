"""Dates and date-times in a plausible range (1900 to 2100) and free text of bounded length,
in forms (the fields' validators) and in the database (a CHECK on each column), with the
relative rules of each date declared on its field (trialsite/crf/fields.py)."""

import django.utils.timezone
from django.db import migrations

import trialsite.crf.fields


class Migration(migrations.Migration):
    dependencies = [
        ("visits", "0002_labels_for_the_data_dictionary"),
    ]

    operations = [
        migrations.AlterField(
            model_name="deviation",
            name="description",
            field=trialsite.crf.fields.BoundedTextField(),
        ),
        migrations.AlterField(
            model_name="deviation",
            name="occurred_on",
            field=trialsite.crf.fields.PlausibleDateField(after_consent=True, past=True),
        ),
        migrations.AlterField(
            model_name="deviation",
            name="recorded_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="injection",
            name="created_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="injection",
            name="deviation_reason",
            field=trialsite.crf.fields.BoundedTextField(
                blank=True, verbose_name="reason for a dose different from the protocol"
            ),
        ),
        migrations.AlterField(
            model_name="injection",
            name="injected_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                after_consent=True, past=True, verbose_name="date and time of injection"
            ),
        ),
        migrations.AlterField(
            model_name="injection",
            name="modified_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="lottransaction",
            name="at",
            field=trialsite.crf.fields.PlausibleDateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="prgfpreparation",
            name="activated_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                after_consent=True, past=True, verbose_name="activated with 10% CaCl₂ at"
            ),
        ),
        migrations.AlterField(
            model_name="prgfpreparation",
            name="blood_drawn_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                after_consent=True, past=True, verbose_name="blood drawn at"
            ),
        ),
        migrations.AlterField(
            model_name="prgfpreparation",
            name="created_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="prgfpreparation",
            name="mixed_with_secretome_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                after_consent=True, past=True, verbose_name="mixed with secretome at"
            ),
        ),
        migrations.AlterField(
            model_name="prgfpreparation",
            name="modified_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="releasetest",
            name="tested_on",
            field=trialsite.crf.fields.PlausibleDateField(past=True),
        ),
        migrations.AlterField(
            model_name="remindersent",
            name="sent_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="secretomelot",
            name="created_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AlterField(
            model_name="secretomelot",
            name="decided_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="secretomelot",
            name="decision_note",
            field=trialsite.crf.fields.BoundedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name="secretomelot",
            name="expires_on",
            field=trialsite.crf.fields.PlausibleDateField(),
        ),
        migrations.AlterField(
            model_name="secretomelot",
            name="manufactured_on",
            field=trialsite.crf.fields.PlausibleDateField(past=True),
        ),
        migrations.AlterField(
            model_name="visit",
            name="missed_reason",
            field=trialsite.crf.fields.BoundedTextField(
                blank=True, verbose_name="reason the visit was missed"
            ),
        ),
        migrations.AlterField(
            model_name="visit",
            name="target_date",
            field=trialsite.crf.fields.PlausibleDateField(
                blank=True, null=True, verbose_name="planned date"
            ),
        ),
        migrations.AlterField(
            model_name="visit",
            name="unscheduled_reason",
            field=trialsite.crf.fields.BoundedTextField(
                blank=True, verbose_name="reason for the unscheduled visit"
            ),
        ),
        migrations.AlterField(
            model_name="visit",
            name="visit_date",
            field=trialsite.crf.fields.PlausibleDateField(
                after_consent=True, blank=True, null=True, past=True, verbose_name="date of visit"
            ),
        ),
        migrations.AlterField(
            model_name="visit",
            name="window_closes",
            field=trialsite.crf.fields.PlausibleDateField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="visit",
            name="window_opens",
            field=trialsite.crf.fields.PlausibleDateField(blank=True, null=True),
        ),
        trialsite.crf.fields.add_column_checks("visits"),
    ]
