"""Randomization slots are part of the randomization form (trialsite/crf/registry.py): like
every table of a registered form, a lock on the study or the participant now covers them."""

from django.db import migrations

from trialsite.crf.locking import protect


class Migration(migrations.Migration):
    dependencies = [
        ("enrollment", "0001_initial"),
        ("monitoring", "0001_initial"),
    ]

    operations = [
        protect("enrollment_randomizationslot", participant="participant_id"),
    ]
