import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from enrollment import randomization, services


class Command(BaseCommand):
    help = "Load the randomization list once and lock it (its SHA-256 is recorded)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--by", default="", help="Who imports it (recorded; default: the system user)."
        )

    def handle(self, *args, file, by, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            report = services.import_randomization_list(
                content=path.read_bytes(), file_name=path.name, imported_by=by or getpass.getuser()
            )
        except (randomization.ListError, services.RandomizationRefused) as error:
            raise CommandError(str(error)) from None
        self.stdout.write("Balance per stratum:")
        for stratum, counts in report.items():
            total = sum(counts.values())
            self.stdout.write(
                f"  {stratum or 'all participants'}: {total} slots, "
                + ", ".join(f"arm {arm} {counts[arm]}" for arm in randomization.ARMS)
                + f", difference {abs(counts['A'] - counts['B'])}"
            )
        self.stdout.write(self.style.SUCCESS("Randomization list imported and locked."))
