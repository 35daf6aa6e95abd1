"""Visits say whether every form due at them was complete at the last save of one of them
(Visit.forms_complete), kept out of the audit trail (derived, rewritten at each save), with a
partial index on the visits whose forms may be outstanding. Existing visits start at False
("not known to be complete"), which lists of outstanding forms read as candidates: nothing is
missed, and each visit's flag is set at the next save of one of its forms."""

from django.db import migrations, models

from trialsite.audit.triggers import attach_sql, detach_sql

VISITS = "visits_visit"


class Migration(migrations.Migration):
    dependencies = [
        ("enrollment", "0007_screening_log_order"),
        ("visits", "0004_deviation_register"),
    ]

    operations = [
        migrations.RunSQL(
            detach_sql(VISITS) + attach_sql(VISITS, "participant_id", ("~forms_complete",)),
            detach_sql(VISITS) + attach_sql(VISITS, "participant_id"),
        ),
        migrations.AddField(
            model_name="visit",
            name="forms_complete",
            field=models.BooleanField(default=False, db_default=False, editable=False),
        ),
        migrations.AddIndex(
            model_name="visit",
            index=models.Index(
                condition=models.Q(("forms_complete", False)),
                fields=["participant"],
                name="visits_visit_forms_outstanding",
            ),
        ),
    ]
