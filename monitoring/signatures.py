"""Electronic signatures of visits and casebooks, bound to a hash of the data signed.

The hash covers every stored value of every registered form signed: for a visit, the visit's
own record and each of its forms; for a casebook, every form of the participant (their own
forms, every visit with its forms, every log entry). Any later change, whatever its path,
makes the signature show as invalidated.

Each signature keeps the version of the rule that made its hash, so that a signature stays
valid, as long as its data are unchanged, when a later version covers more forms (version 4:
concomitant medications, protocol deviations and the end of study). From version 3 the hash
is an HMAC keyed with settings.AUDIT_HMAC_KEY, which the database does not hold:
whoever changes data in the database cannot recompute a signature to match. Versions 1 and 2
(plain SHA-256) are still checked as they were made. When the key is rotated,
`rekey_signatures` moves every still-valid signature to the new key.
"""

import hashlib
import hmac
import json

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from monitoring.models import Signature
from trialsite.audit import context as audit
from trialsite.crf import registry
from trialsite.crf.registry import Kind
from visits.models import Visit

WRONG_PASSWORD = "The password is not correct; nothing was signed."  # noqa: S105

# Version 1 (signatures made before the form registry) covered the visit and these forms at
# it, and for a casebook also the adverse events.
V1_VISIT_FORMS = (
    "vas_pain",
    "womac",
    "synovial_biomarkers",
    "xray",
    "mri",
    "injection",
    "prgf_preparation",
)
V1_LOGS = ("adverse_event",)
# Forms first covered by version 4: versions 2 and 3 covered every registered form but these.
SINCE_V4 = ("concomitant_medication", "deviation", "end_of_study")
CURRENT_VERSION = 4


def _values(obj) -> dict:
    return {f.attname: obj.serializable_value(f.name) for f in obj._meta.concrete_fields}


def _rows(definition, records) -> list:
    return [[definition.table, _values(r)] for r in sorted(records, key=lambda r: r.pk)]


def signed_data(participant, visit=None, version: int = CURRENT_VERSION) -> list:
    """The records a signature covers, as plain values in a fixed order."""
    # Read from the database: a visit passed in may be older than what is stored.
    visits = Visit.objects.filter(participant=participant)
    if visit is not None:
        visits = visits.filter(pk=visit.pk)
    if version == 1:
        visit_forms = [registry.get(name) for name in V1_VISIT_FORMS]
        logs = [registry.get(name) for name in V1_LOGS]
        own = []
    else:
        covered = [f for f in registry.forms() if version >= 4 or f.name not in SINCE_V4]
        visit_forms = [f for f in covered if f.kind == Kind.PER_VISIT and not f.visit_record]
        logs = [f for f in covered if f.kind == Kind.LOG]
        own = [f for f in covered if f.kind == Kind.PER_PARTICIPANT]
    records = []
    if visit is None:
        for definition in own:
            records += _rows(definition, definition.records_of([participant]))
    for v in sorted(visits, key=lambda v: v.pk):
        records.append(["visits_visit", _values(v)])
        for definition in visit_forms:
            records += _rows(definition, definition.model.objects.filter(visit=v))
    if visit is None:
        for definition in logs:
            records += _rows(definition, definition.records_of([participant]))
    return records


def data_hash(
    participant, visit=None, version: int = CURRENT_VERSION, key: str | None = None
) -> str:
    """The hash a signature holds; from version 3 an HMAC under `key` (the current audit key
    unless given)."""
    canonical = json.dumps(signed_data(participant, visit, version), sort_keys=True, default=str)
    if version < 3:
        return hashlib.sha256(canonical.encode()).hexdigest()
    secret = f"signature:{settings.AUDIT_HMAC_KEY if key is None else key}".encode()
    return hmac.new(secret, canonical.encode(), hashlib.sha256).hexdigest()


def sign(*, participant, visit=None, password: str, by) -> Signature:
    """Sign a visit (or the whole casebook when `visit` is None) by re-entering the password."""
    if not by.has_perm("accounts.sign_records"):
        raise PermissionDenied("Only an investigator can sign.")
    if not by.check_password(password):
        raise ValidationError({"password": WRONG_PASSWORD})
    with transaction.atomic(), audit.acting(by=by, reason=Signature.MEANING):
        # First, so that the visits' rows are locked before the data are read: a form saved
        # meanwhile waits for this signature and then marks its visit again
        # (trialsite/crf/services.save_crf), one saved before is in the hash.
        signed = Visit.objects.filter(participant=participant)
        if visit is not None:
            signed = signed.filter(pk=visit.pk)
        signed.update(awaiting_signature=False)
        return Signature.objects.create(
            participant=participant,
            visit=visit,
            printed_name=by.printed_name,
            signed_by=by,
            data_hash=data_hash(participant, visit),
            hash_version=CURRENT_VERSION,
        )


def is_valid(signature: Signature) -> bool:
    """Whether the signed data are still exactly what was signed."""
    version = signature.hash_version
    expected = data_hash(signature.participant, signature.visit, version)
    return hmac.compare_digest(signature.data_hash, expected)


def rekey_signatures(*, old_key: str, by=None) -> tuple[int, list[Signature]]:
    """After the audit key was rotated: each signature whose HMAC is valid under `old_key`
    gets the HMAC of the same data under the current key (an audited change). Signatures not
    valid under the old key (data changed after signing) are left as they are, invalid, and
    returned. Returns (how many were re-keyed, those left invalid)."""
    rekeyed, invalid = 0, []
    with transaction.atomic(), audit.acting(by=by, reason="audit key rotated"):
        keyed = (
            Signature.objects.filter(hash_version__gte=3)
            .select_related("participant", "visit")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        for signature in keyed:
            before = data_hash(
                signature.participant, signature.visit, signature.hash_version, key=old_key
            )
            if not hmac.compare_digest(signature.data_hash, before):
                invalid.append(signature)
                continue
            signature.data_hash = data_hash(
                signature.participant, signature.visit, signature.hash_version
            )
            signature.save(update_fields=["data_hash"])
            rekeyed += 1
    return rekeyed, invalid
