from django.core.management.base import BaseCommand

from monitoring import demo


class Command(BaseCommand):
    help = "Create demo sites, a user for every role and a few participants (idempotent)."

    def handle(self, *args, **options):
        demo.seed()
        self.stdout.write(self.style.SUCCESS("Demo users and data are in place."))
        self.stdout.write(f"Demo log-ins (password for all: {demo.DEMO_PASSWORD}):")
        self.stdout.write(demo.demo_logins())
