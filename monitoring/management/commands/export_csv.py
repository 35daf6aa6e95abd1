import getpass
from pathlib import Path

from django.core.management.base import BaseCommand

from monitoring.exports import export_csv


class Command(BaseCommand):
    help = "Write one CSV per CRF (codes with labels) and a data dictionary into --out DIR."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="Folder to write into.")

    def handle(self, *args, out, **options):
        for path in export_csv(Path(out), by_name=f"command line ({getpass.getuser()})"):
            self.stdout.write(str(path))
