"""Electronic signatures of visits and casebooks, bound to a hash of the data signed.

The hash covers every stored value of the signed records (the visit and each CRF at it; for a
casebook, every visit, CRF and adverse event of the participant), so any later change, whatever
its path, makes the signature show as invalidated.
"""

import hashlib
import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from monitoring.models import Signature
from safety.models import AdverseEvent
from trialsite.audit import context as audit
from trialsite.crfs import CRF_PAGES
from visits.models import Visit

WRONG_PASSWORD = "The password is not correct; nothing was signed."  # noqa: S105


def _values(obj) -> dict:
    return {f.attname: obj.serializable_value(f.name) for f in obj._meta.concrete_fields}


def signed_data(participant, visit=None) -> list:
    """The records a signature covers, as plain values in a fixed order."""
    visits = [visit] if visit is not None else list(Visit.objects.filter(participant=participant))
    records = []
    for v in sorted(visits, key=lambda v: v.pk):
        records.append(["visits_visit", _values(v)])
        for model, _ in CRF_PAGES.values():
            for crf in model.objects.filter(visit=v).order_by("pk"):
                records.append([model._meta.db_table, _values(crf)])
    if visit is None:
        for ae in AdverseEvent.objects.filter(participant=participant).order_by("pk"):
            records.append(["safety_adverseevent", _values(ae)])
    return records


def data_hash(participant, visit=None) -> str:
    canonical = json.dumps(signed_data(participant, visit), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def sign(*, participant, visit=None, password: str, by) -> Signature:
    """Sign a visit (or the whole casebook when `visit` is None) by re-entering the password."""
    if not by.has_perm("accounts.sign_records"):
        raise PermissionDenied("Only an investigator can sign.")
    if not by.check_password(password):
        raise ValidationError({"password": WRONG_PASSWORD})
    with transaction.atomic(), audit.acting(by=by, reason=Signature.MEANING):
        return Signature.objects.create(
            participant=participant,
            visit=visit,
            printed_name=by.printed_name,
            signed_by=by,
            data_hash=data_hash(participant, visit),
        )


def is_valid(signature: Signature) -> bool:
    """Whether the signed data are still exactly what was signed."""
    return signature.data_hash == data_hash(signature.participant, signature.visit)
