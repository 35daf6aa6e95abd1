"""Blank CRFs asked for before the form registry name the synovial biomarkers form by its
former short name; they now use the registered name, so that they can be made again."""

from django.db import migrations

RENAMED = {"biomarkers": "synovial_biomarkers"}


def rename(apps, schema_editor, names=RENAMED):
    Document = apps.get_model("monitoring", "Document")
    for document in Document.objects.filter(kind="blank_crf"):
        form = document.params.get("form")
        if form in names:
            document.params = {**document.params, "form": names[form]}
            document.save(update_fields=["params"])


def rename_back(apps, schema_editor):
    rename(apps, schema_editor, names={new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0008_signature_hash_version"),
    ]

    operations = [migrations.RunPython(rename, rename_back, elidable=False)]
