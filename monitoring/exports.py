"""CSV exports: one file per CRF (a row per participant-visit, codes with their labels) and a
data dictionary. Rows are streamed from the database in chunks, so memory stays flat."""

import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from django.db import models

from trialsite.crf.models import Crf
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


def dictionary_rows(names=None) -> Iterator[list[str]]:
    yield ["form", "column", "label", "type", "codes", "required"]
    for name in names or CRF_PAGES:
        model, _ = CRF_PAGES[name]
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


def no_progress(done: int, total: int, label: str) -> None:
    pass


def export_csv(
    out: Path,
    *,
    participants=None,
    names=None,
    progress: Callable[[int, int, str], None] = no_progress,
) -> list[Path]:
    """Write each CRF's CSV (all CRFs, or `names`) and the data dictionary into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    names = list(names or CRF_PAGES)
    written = []
    for number, name in enumerate(names):
        progress(number, len(names) + 1, f"Writing {name}.csv")
        path = out / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            _write_crf(handle, name, participants)
        written.append(path)
    path = out / "data_dictionary.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.writelines(csv_lines(dictionary_rows(names)))
    written.append(path)
    return written


def export_csv_zip(
    path: Path,
    *,
    participants=None,
    names=None,
    progress: Callable[[int, int, str], None] = no_progress,
) -> Path:
    """The same files in one ZIP archive, each streamed into it row by row."""
    names = list(names or CRF_PAGES)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, name in enumerate(names):
            progress(number, len(names) + 1, f"Writing {name}.csv")
            with _member(archive, f"{name}.csv") as handle:
                _write_crf(handle, name, participants)
        with _member(archive, "data_dictionary.csv") as handle:
            handle.writelines(csv_lines(dictionary_rows(names)))
    return path


def _member(archive: zipfile.ZipFile, name: str) -> io.TextIOWrapper:
    """A text file written straight into the archive (streamed, never held in memory)."""
    return io.TextIOWrapper(archive.open(name, "w"), encoding="utf-8", newline="")


def _write_crf(handle, name: str, participants) -> None:
    model, _ = CRF_PAGES[name]
    handle.writelines(csv_lines([header(model)]))
    handle.writelines(csv_lines(rows(model, participants)))
