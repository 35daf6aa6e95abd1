"""Finish an audit-key rotation (docs/operations.md): `manage.py rotate_audit_key`."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from monitoring import signatures
from trialsite.audit import chain


class Command(BaseCommand):
    help = (
        "After AUDIT_HMAC_KEY was replaced, AUDIT_HMAC_KEY_ID raised and the previous key listed "
        "in AUDIT_HMAC_RETIRED_KEYS: verify the whole chain, move the signatures to the new key "
        "and seal under it."
    )

    def handle(self, *args, **options):
        current = settings.AUDIT_HMAC_KEY_ID
        earlier = [n for n in settings.AUDIT_HMAC_RETIRED_KEYS if n < current]
        if not earlier:
            raise CommandError(
                f"No retired key numbered below {current}: list the previous key in "
                "AUDIT_HMAC_RETIRED_KEYS (e.g. 1=old-key) and raise AUDIT_HMAC_KEY_ID."
            )
        previous = max(earlier)
        chain.seal()  # rows committed so far are sealed (under the new key) before the check
        verdict = chain.verify()
        if not verdict.ok:
            raise CommandError(
                f"The audit chain is broken at position {verdict.broken_at}: {verdict.problem}. "
                "Nothing was changed; investigate before rotating."
            )
        self.stdout.write(f"audit chain verified: {verdict.checked} links")
        rekeyed, invalid = signatures.rekey_signatures(
            old_key=settings.AUDIT_HMAC_RETIRED_KEYS[previous]
        )
        self.stdout.write(f"signatures moved from key {previous} to key {current}: {rekeyed}")
        for signature in invalid:
            self.stdout.write(
                f"  signature {signature.pk} was not valid under key {previous} (its data changed "
                "after signing): left as it was, still shown as invalidated"
            )
        head = chain.seal()
        with connection.cursor() as cursor:
            cursor.execute("SELECT key_id FROM audit_chain ORDER BY position DESC LIMIT 1")
            row = cursor.fetchone()
        newest = row[0] if row else None
        if newest == current:
            self.stdout.write(f"sealed under key {current}: head {head}")
        else:
            self.stdout.write(
                f"no audit row to seal yet: the next change is sealed under key {current}"
            )
        verdict = chain.verify()
        self.stdout.write(f"audit chain verified: {verdict.checked} links, intact: {verdict.ok}")
