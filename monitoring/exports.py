"""CSV exports: one file per CRF (a row per participant-visit, codes with their labels) and a
data dictionary. Rows are streamed from the database in chunks, so memory stays flat."""

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from django.db import models

from monitoring.models import ExportLog
from trialsite.crf import Crf
from trialsite.crfs import CRF_PAGES

KEYS = ["participant_id", "site", "visit", "status", "version", "modified_at"]
SKIP = {f.name for f in Crf._meta.get_fields()} | {"id"}


def data_fields(model) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if f.name not in SKIP]


def header(model) -> list[str]:
    columns = list(KEYS)
    for field in data_fields(model):
        columns.append(field.attname)
        if field.choices:
            columns.append(f"{field.attname}_label")
    return columns


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def rows(model, participants=None) -> Iterator[list[str]]:
    qs = model.objects.select_related("participant", "site", "visit").order_by(
        "participant__participant_id", "visit_id"
    )
    if participants is not None:
        qs = qs.filter(participant__in=participants)
    fields = data_fields(model)
    for crf in qs.iterator(chunk_size=2000):
        row = [
            crf.participant.participant_id,
            crf.site.code,
            crf.visit.code,
            crf.status,
            str(crf.version),
            crf.modified_at.isoformat(),
        ]
        for field in fields:
            value = getattr(crf, field.attname)
            row.append(_cell(value))
            if field.choices:
                row.append(str(dict(field.flatchoices).get(value, "")) if value is not None else "")
        yield row


def dictionary_rows() -> Iterator[list[str]]:
    yield ["form", "column", "label", "type", "codes", "required"]
    for name, (model, _) in CRF_PAGES.items():
        for field in data_fields(model):
            codes = (
                "; ".join(f"{code}={label}" for code, label in field.flatchoices)
                if field.choices
                else ""
            )
            yield [
                name,
                field.attname,
                str(field.verbose_name),
                field.get_internal_type(),
                codes,
                "N" if field.blank or field.null else "Y",
            ]


def csv_lines(lines) -> Iterator[str]:
    """Each row as one CSV-encoded line (for streaming responses and files)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for line in lines:
        writer.writerow(line)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def export_csv(out: Path, *, by_name: str, user=None) -> list[Path]:
    """Write every CRF's CSV and the data dictionary into `out`; the export is logged."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (model, _) in CRF_PAGES.items():
        path = out / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            handle.writelines(csv_lines([header(model)]))
            handle.writelines(csv_lines(rows(model)))
        written.append(path)
    path = out / "data_dictionary.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.writelines(csv_lines(dictionary_rows()))
    written.append(path)
    ExportLog.objects.create(user=user, by_name=by_name, what=f"CSV export ({len(written)} files)")
    return written
