import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from trialsite import protocol
from trialsite.audit import context as audit
from trialsite.sites.models import Site


class Command(BaseCommand):
    help = "Add a trial site (its code starts its participants' IDs); audited as the command line."

    def add_arguments(self, parser):
        parser.add_argument("code", help="Short code, e.g. KHI.")
        parser.add_argument("name", help="The site's name, e.g. 'Aga Khan University, Karachi'.")
        parser.add_argument("--time-zone", default=protocol.DEFAULT_SITE_TIME_ZONE)

    def handle(self, *args, code, name, time_zone, **options):
        site = Site(code=code.upper(), name=name, time_zone=time_zone)
        try:
            site.full_clean()
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(m)}" for field, m in error.message_dict.items())
            ) from error
        with (
            transaction.atomic(),
            audit.acting(by=None, reason=f"added on the command line ({getpass.getuser()})"),
        ):
            site.save()
        self.stdout.write(f"site added: {site} ({site.time_zone})")
        self.stdout.write("Give users this site on the Users page (data managers).")
