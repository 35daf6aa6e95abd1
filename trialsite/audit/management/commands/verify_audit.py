"""Check the audit chain: `manage.py verify_audit` (exit status 1 when a link is broken)."""

from django.core.management.base import BaseCommand, CommandError

from trialsite.audit import chain


class Command(BaseCommand):
    help = "Recompute the audit trail's chain of HMAC links and report the first broken one."

    def add_arguments(self, parser):
        parser.add_argument(
            "--seal", action="store_true", help="First chain the rows not yet sealed."
        )

    def handle(self, *args, seal=False, **options):
        if seal:
            chain.seal()
        verdict = chain.verify()
        if verdict.missing_key is not None:
            raise CommandError(
                f"Cannot check the links from position {verdict.broken_at}: they were sealed under "
                f"key {verdict.missing_key}; list it in AUDIT_HMAC_RETIRED_KEYS. "
                f"{verdict.checked} links before them are intact."
            )
        if not verdict.ok:
            raise CommandError(
                f"Broken link at position {verdict.broken_at} (audit row {verdict.event_id}): "
                f"{verdict.problem}. {verdict.checked} links before it are intact."
            )
        self.stdout.write(
            f"Audit chain intact: {verdict.checked} links checked, head {chain.head()}; "
            f"{verdict.unsealed} audit rows not yet sealed."
        )
