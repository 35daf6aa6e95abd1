"""Visits say whether something was entered at them since a signature last covered them
(Visit.awaiting_signature), kept out of the audit trail (derived), with a partial index on the
visits where it is True. Existing visits start True ("not known to be signed"), which the list
of visits ready to sign reads as candidates: nothing is missed, and each is cleared at its next
signature. New visits start False: nothing is entered at them yet."""

from django.db import migrations, models

from trialsite.audit.triggers import attach_sql, detach_sql

VISITS = "visits_visit"
DERIVED = ("~forms_complete", "~awaiting_signature")


class Migration(migrations.Migration):
    dependencies = [
        ("enrollment", "0007_screening_log_order"),
        ("visits", "0006_due_visits_index"),
    ]

    operations = [
        migrations.RunSQL(
            detach_sql(VISITS) + attach_sql(VISITS, "participant_id", DERIVED),
            detach_sql(VISITS) + attach_sql(VISITS, "participant_id", DERIVED[:1]),
        ),
        migrations.AddField(
            model_name="visit",
            name="awaiting_signature",
            field=models.BooleanField(default=True, db_default=True, editable=False),
        ),
        migrations.AlterField(
            model_name="visit",
            name="awaiting_signature",
            field=models.BooleanField(default=False, db_default=False, editable=False),
        ),
        migrations.AddIndex(
            model_name="visit",
            index=models.Index(
                condition=models.Q(("awaiting_signature", True)),
                fields=["participant"],
                name="visits_visit_unsigned",
            ),
        ),
    ]
