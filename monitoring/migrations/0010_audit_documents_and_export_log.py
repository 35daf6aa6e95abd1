"""The export log and generated documents are in the audit trail: who asked for which file,
and every change of its state (progress counters aside)."""

from django.db import migrations

from trialsite.audit.triggers import track


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0009_document_form_names"),
        ("audit", "0002_chain_and_safe_search_path"),
    ]

    operations = [
        track("monitoring.ExportLog"),
        track(
            "monitoring.Document", exclude=("~progress_done", "~progress_total", "~progress_label")
        ),
    ]
