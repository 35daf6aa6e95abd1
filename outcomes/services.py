"""Outcome services: each CRF's save computes its derived values in the same transaction."""

from dataclasses import asdict

from outcomes import womac
from outcomes.models import Womac
from trialsite.crf import save_crf

SCORE_FIELDS = (
    "pain",
    "stiffness",
    "function",
    "total",
    "pain_normalised",
    "stiffness_normalised",
    "function_normalised",
    "total_normalised",
    "algorithm_version",
)


def record_womac(*, crf_class, visit, data, version, complete, reason="", by) -> Womac:
    """Save the WOMAC CRF and its scores, recomputed from the items on every save."""
    result = womac.score({code: data.get(code.lower()) for code in womac.CODES})
    scores = {name: value for name, value in asdict(result).items() if name in SCORE_FIELDS}
    data = {**data, **scores, "imputed_items": list(result.imputed)}
    return save_crf(
        crf_class=Womac,
        visit=visit,
        data=data,
        version=version,
        complete=complete,
        reason=reason,
        by=by,
    )
