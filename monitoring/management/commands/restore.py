from pathlib import Path

import psycopg
from django.core.management.base import BaseCommand, CommandError

from monitoring import backup


class Command(BaseCommand):
    help = (
        "Restore a backup made by the backup command into an empty database (a new cluster or "
        "a database just created) and the document storage, then check it against the manifest: "
        "row counts, the audit chain and the signatures."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The backup's tar file.")

    def handle(self, *args, file, **options):
        try:
            manifest = backup.read_manifest(Path(file))
            self.stdout.write(f"restoring the backup of {manifest['created_at']}")
            report = backup.restore(Path(file))
        except (backup.BackupError, OSError, psycopg.Error) as error:
            raise CommandError(str(error)) from error
        for line in report.lines():
            self.stdout.write(line)
        if report.problems:
            raise CommandError("The restored copy differs from the backup (see above).")
        self.stdout.write("restore: complete, the copy equals the backup")
