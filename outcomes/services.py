"""Outcome services: each CRF's save computes its derived values in the same transaction."""

from dataclasses import asdict

from django.core.exceptions import ValidationError

from outcomes import biomarkers, womac
from outcomes.models import SynovialBiomarkers, Womac
from trialsite.crf.services import save_crf

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


def record_womac(*, visit, data, version, complete, reason="", by) -> Womac:
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


def record_biomarkers(*, visit, data, version, complete, reason="", by) -> SynovialBiomarkers:
    """Save the synovial biomarker CRF; each result is converted to pg/mL and flagged against
    its LLOQ/ULOQ, and the reported text is stored unchanged beside it."""
    derived, errors = {}, {}
    for analyte in biomarkers.ANALYTES:
        reported = data.get(f"{analyte}_reported", "")
        if not reported:
            derived[f"{analyte}_pg_ml"], derived[f"{analyte}_flag"] = None, ""
            continue
        try:
            result = biomarkers.interpret(
                reported,
                data[f"{analyte}_unit"],
                data.get(f"{analyte}_lloq"),
                data.get(f"{analyte}_uloq"),
            )
        except biomarkers.ResultError as error:
            errors[f"{analyte}_reported"] = str(error)
            continue
        derived[f"{analyte}_pg_ml"], derived[f"{analyte}_flag"] = result.pg_ml, result.flag
    if errors:
        raise ValidationError(errors)
    return save_crf(
        crf_class=SynovialBiomarkers,
        visit=visit,
        data={**data, **derived},
        version=version,
        complete=complete,
        reason=reason,
        by=by,
    )
