"""The protocol deviations register becomes a log form of the participant: numbered entries
with a category, major or minor, the date reported to the ethics committee and the corrective
action, tracked like every form (who created and changed each, and its version).

Deviations recorded before keep their data: the old kind gives the category, and what recorded
each (the visit and kind) becomes `detected_from`, so that none is recorded a second time."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import trialsite.crf.fields
from trialsite import protocol

# Old kinds: the category and the detector each becomes.
KINDS = {
    "visit_window": "visit_window",
    "dose_volume": "dosing",
    "prgf_time": "dosing",
    "other": "other",
}


def _case(mapping: dict[str, str], column: str, default: str) -> str:
    whens = " ".join(f"WHEN '{old}' THEN '{new}'" for old, new in mapping.items())
    return f"CASE {column} {whens} ELSE '{default}' END"


def _backfill() -> str:
    severity = {
        kind: protocol.DEVIATION_SEVERITY.get(category, "minor") for kind, category in KINDS.items()
    }
    # Built from the constants above only; nothing typed by a user.
    return f"""
        SELECT set_config('trialsite.reason', 'deviations register: existing deviations', true);
        ALTER TABLE visits_deviation DISABLE TRIGGER locked_row;
        UPDATE visits_deviation d SET
            site_id = p.site_id,
            number = n.number,
            category = {_case(KINDS, "d.kind", "other")},
            severity = {_case(severity, "d.kind", "minor")},
            detected_from = CASE WHEN d.kind = 'other' OR d.visit_id IS NULL THEN ''
                ELSE d.kind || ':visit ' || d.visit_id END,
            created_at = d.recorded_at, created_by_id = d.recorded_by_id,
            modified_at = d.recorded_at, modified_by_id = d.recorded_by_id
        FROM enrollment_participant p,
            (SELECT id, row_number() OVER (
                PARTITION BY participant_id ORDER BY occurred_on, id) AS number
             FROM visits_deviation) n
        WHERE p.id = d.participant_id AND n.id = d.id;
        ALTER TABLE visits_deviation ENABLE TRIGGER locked_row;
    """  # noqa: S608


def _user(null: bool):
    return models.ForeignKey(
        editable=False,
        null=null,
        on_delete=django.db.models.deletion.PROTECT,
        related_name="+",
        to=settings.AUTH_USER_MODEL,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("enrollment", "0005_plausible_dates_and_bounded_text"),
        ("sites", "0001_initial"),
        ("visits", "0003_plausible_dates_and_bounded_text"),
        ("crf", "0004_lock_reason"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="deviation", options={"ordering": ["participant", "number"]}
        ),
        migrations.AddField(
            model_name="deviation",
            name="site",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="sites.site",
            ),
        ),
        migrations.AddField(
            model_name="deviation",
            name="number",
            field=models.PositiveSmallIntegerField(
                null=True, editable=False, verbose_name="deviation number"
            ),
        ),
        migrations.AddField(
            model_name="deviation",
            name="category",
            field=models.CharField(
                choices=[
                    ("eligibility", "Eligibility"),
                    ("consent", "Consent"),
                    ("visit_window", "Outside a visit window"),
                    ("dosing", "Dosing"),
                    ("forbidden_medication", "Forbidden medication"),
                    ("procedure", "Procedure"),
                    ("other", "Other"),
                ],
                default="other",
                max_length=24,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="deviation",
            name="severity",
            field=models.CharField(
                choices=[("major", "Major"), ("minor", "Minor")],
                default="minor",
                max_length=5,
                verbose_name="major or minor",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="deviation",
            name="reported_to_ethics_on",
            field=trialsite.crf.fields.PlausibleDateField(
                blank=True,
                null=True,
                past=True,
                verbose_name="date reported to the ethics committee",
            ),
        ),
        migrations.AddField(
            model_name="deviation",
            name="corrective_action",
            field=trialsite.crf.fields.BoundedTextField(
                blank=True, default="", verbose_name="corrective action"
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="deviation",
            name="detected_from",
            field=models.CharField(blank=True, default="", editable=False, max_length=80),
        ),
        migrations.AddField(
            model_name="deviation",
            name="created_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AddField(model_name="deviation", name="created_by", field=_user(True)),
        migrations.AddField(
            model_name="deviation",
            name="modified_at",
            field=trialsite.crf.fields.PlausibleDateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AddField(model_name="deviation", name="modified_by", field=_user(True)),
        migrations.AddField(
            model_name="deviation",
            name="version",
            field=models.PositiveIntegerField(default=1, editable=False),
        ),
        migrations.RunSQL(_backfill(), migrations.RunSQL.noop),
        migrations.RemoveField(model_name="deviation", name="kind"),
        migrations.RemoveField(model_name="deviation", name="recorded_at"),
        migrations.RemoveField(model_name="deviation", name="recorded_by"),
        migrations.AlterField(
            model_name="deviation",
            name="site",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="sites.site"
            ),
        ),
        migrations.AlterField(
            model_name="deviation",
            name="number",
            field=models.PositiveSmallIntegerField(editable=False, verbose_name="deviation number"),
        ),
        migrations.AlterField(model_name="deviation", name="created_by", field=_user(False)),
        migrations.AlterField(model_name="deviation", name="modified_by", field=_user(False)),
        migrations.AlterField(
            model_name="deviation",
            name="occurred_on",
            field=trialsite.crf.fields.PlausibleDateField(
                after_consent=True, past=True, verbose_name="date of the deviation"
            ),
        ),
        migrations.AlterField(
            model_name="deviation",
            name="visit",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="visits.visit",
            ),
        ),
        migrations.AddConstraint(
            model_name="deviation",
            constraint=models.UniqueConstraint(
                fields=("participant", "number"), name="visits_deviation_number"
            ),
        ),
        migrations.AddConstraint(
            model_name="deviation",
            constraint=models.UniqueConstraint(
                condition=models.Q(("detected_from", ""), _negated=True),
                fields=("participant", "detected_from"),
                name="visits_deviation_detected_once",
            ),
        ),
        migrations.AddConstraint(
            model_name="deviation",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("reported_to_ethics_on__isnull", True),
                    ("reported_to_ethics_on__gte", models.F("occurred_on")),
                    _connector="OR",
                ),
                name="visits_deviation_reported_after_it_occurred",
                violation_error_message="It cannot be reported before it occurred.",
            ),
        ),
    ]
