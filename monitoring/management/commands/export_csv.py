import getpass
from pathlib import Path

from django.core.management.base import BaseCommand

from monitoring.exports import export_csv
from monitoring.models import ExportLog


class Command(BaseCommand):
    help = "Write one CSV per CRF (codes with labels) and a data dictionary into --out DIR."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="Folder to write into.")

    def handle(self, *args, out, **options):
        written = export_csv(Path(out))
        ExportLog.objects.create(
            by_name=f"command line ({getpass.getuser()})",
            what=f"CSV export ({len(written)} files) to {out}",
        )
        for path in written:
            self.stdout.write(str(path))
