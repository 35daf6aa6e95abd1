from pathlib import Path

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from monitoring import backup


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump, one snapshot), the documents and a manifest (row counts, "
        "audit-chain head, checksums) into one tar file in --out (default var/backups)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", default=str(settings.BASE_DIR / "var" / "backups"))

    def handle(self, *args, out, **options):
        try:
            path = backup.back_up(Path(out))
        except (backup.BackupError, OSError, psycopg.Error) as error:
            raise CommandError(str(error)) from error
        manifest = backup.read_manifest(path)
        head = manifest["audit_chain_head"]
        self.stdout.write(f"backup: {path}")
        self.stdout.write(
            f"tables: {len(manifest['tables'])}, rows: {sum(manifest['tables'].values())}, "
            f"documents: {len(manifest['documents'])}, "
            f"audit chain head: {head['position']}:{head['link'][:16]}…"
        )
