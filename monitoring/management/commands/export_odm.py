import getpass
from pathlib import Path

from django.core.management.base import BaseCommand

from monitoring.models import ExportLog
from monitoring.odm import write_odm


class Command(BaseCommand):
    help = "Write the study as a CDISC ODM 1.3.2 XML snapshot (metadata, admin and clinical data)."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="The XML file to write.")

    def handle(self, *args, out, **options):
        path = write_odm(Path(out))
        ExportLog.objects.create(
            by_name=f"command line ({getpass.getuser()})", what=f"ODM 1.3.2 export to {out}"
        )
        self.stdout.write(str(path))
