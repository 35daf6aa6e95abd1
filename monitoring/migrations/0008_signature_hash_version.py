"""Signatures keep the version of the rule that made their hash: those made so far are version
1 (a visit and its CRFs; a casebook's visits, CRFs and adverse events); new ones version 2,
which covers every registered form."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0007_lock_moves_to_crf"),
    ]

    operations = [
        migrations.AddField(
            model_name="signature",
            name="hash_version",
            field=models.PositiveSmallIntegerField(default=1),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="signature",
            name="hash_version",
            field=models.PositiveSmallIntegerField(default=2),
        ),
    ]
