"""CSV exports: one file per registered form, two analysis files and the data dictionary.

Every form of the registry is a dataset: a row per record (screened candidate, visit, form of a
visit, log entry) with key columns (participant, site, visit or entry number, status, version,
last change) and the form's items, each coded item followed by its label. The analysis files
(monitoring/analysis.py) are datasets too. The data dictionary describes every column of
every file. Rows are streamed from the database in chunks, so memory stays flat; cells that a
spreadsheet would read as formulas are neutralised.

What a user may not see is not exported to them: the files of forms that reveal the arm, and
items that do.
"""

import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from monitoring import analysis
from trialsite.crf import registry
from trialsite.crf.registry import FormDef, Item, Kind
from trialsite.csv_cells import safe_row


@dataclass(frozen=True)
class Dataset:
    """One file of the export: its items (columns) and its rows."""

    name: str
    title: str
    items: list[Item]
    rows: Callable[[], Iterator]  # records or row objects, read by each item's value()


def _participant_id(definition: FormDef):
    def value(record):
        participant = definition.participant_of(record)
        return participant.participant_id if participant is not None else None

    return value


def _site(definition: FormDef):
    return lambda record: definition.follow(record, definition.site_path).code


def key_items(definition: FormDef) -> list[Item]:
    """The columns that say whose record a row is, where and when it was last changed."""
    keys = [
        Item(
            "participant_id",
            "participant ID (empty for a candidate not randomized)",
            "text",
            _participant_id(definition),
            mandatory=False,
        ),
        Item("site", "site code", "text", _site(definition), mandatory=True),
    ]
    if definition.kind == Kind.PER_VISIT:
        visit = (lambda r: r) if definition.visit_path == "pk" else (lambda r: r.visit)
        keys += [
            Item("visit", "visit code", "text", lambda r: visit(r).code, mandatory=True),
            Item(
                "visit_sequence",
                "number of the visit among visits of that code (unscheduled visits 1, 2, ...)",
                "integer",
                lambda r: visit(r).sequence,
                mandatory=True,
            ),
        ]
    if definition.kind == Kind.LOG:
        keys.append(
            Item("number", "entry number in the log", "integer", lambda r: r.number, mandatory=True)
        )
    fields = {f.name for f in definition.model._meta.concrete_fields}
    if "status" in fields:
        keys.append(
            Item("status", "status of the form", "text", lambda r: r.status, mandatory=True)
        )
    if "version" in fields:
        keys += [
            Item(
                "version", "version of the record", "integer", lambda r: r.version, mandatory=True
            ),
            Item(
                "modified_at",
                "last changed at (UTC)",
                "datetime",
                lambda r: r.modified_at,
                mandatory=True,
            ),
        ]
    return keys


def _ordering(definition: FormDef) -> list[str]:
    participant = definition.participant_path
    first = "participant_id" if participant == "pk" else f"{participant}__participant_id"
    order = [first]
    if definition.kind == Kind.PER_VISIT:
        order.append(
            definition.visit_path
            if definition.visit_path == "pk"
            else f"{definition.visit_path}_id"
        )
    if definition.kind == Kind.LOG:
        order.append("number")
    return [*order, "pk"]


def form_dataset(definition: FormDef, *, user=None, site_ids=None, matching=None) -> Dataset:
    """The dataset of a registered form: the records at `site_ids` (all when None), those
    `matching` a Q when given (a listing's filters)."""

    def rows():
        records = definition.records()
        if site_ids is not None:
            records = records.filter(**{f"{definition.site_path}__in": site_ids})
        if matching is not None:
            records = records.filter(matching)
        return records.order_by(*_ordering(definition)).iterator(chunk_size=2000)

    return Dataset(
        definition.name,
        definition.title,
        key_items(definition) + definition.items(user),
        rows,
    )


def datasets(*, user=None) -> list[Dataset]:
    """Every file of the export for `user` (everything, at every site, when None): each
    registered form they may see, then the analysis files."""
    site_ids = sorted(user.site_ids) if user is not None else None
    forms = registry.forms() if user is None else registry.visible_forms(user)
    found = [form_dataset(f, user=user, site_ids=site_ids) for f in forms]
    return found + [analysis_dataset(name, user=user) for name, *_ in analysis.FILES]


def analysis_dataset(name: str, *, user=None) -> Dataset:
    """The analysis file called `name` (analysis.FILES), of `user`'s sites' participants (all
    when None), without the items that reveal the arm to a user who may not see it."""
    site_ids = sorted(user.site_ids) if user is not None else None
    title, items, make_rows = next((t, i, r) for n, t, i, r in analysis.FILES if n == name)
    shown = [i for i in items if user is None or user.sees_arm or not i.reveals_arm]
    return Dataset(name, title, shown, partial(make_rows, analysis.participants(site_ids)))


# --- Writing -------------------------------------------------------------------------------------
def header(dataset: Dataset) -> list[str]:
    columns = []
    for item in dataset.items:
        columns.append(item.name)
        if item.codes:
            columns.append(f"{item.name}_label")
    return columns


def cell(value):
    """A stored value as a CSV cell: Y/N for booleans, ISO dates, lists joined by "; "."""
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def rows(dataset: Dataset) -> Iterator[list[str]]:
    for record in dataset.rows():
        row = []
        for item in dataset.items:
            value = item.value(record)
            row.append(cell(value))
            if item.codes:
                row.append(dict(item.codes).get(str(value), "") if value is not None else "")
        yield safe_row(row)


def dictionary_rows(sets: list[Dataset]) -> Iterator[list[str]]:
    yield ["file", "column", "label", "type", "codes", "required"]
    for dataset in sets:
        for item in dataset.items:
            codes = "; ".join(f"{code}={label}" for code, label in item.codes)
            yield safe_row(
                [
                    f"{dataset.name}.csv",
                    item.name,
                    item.label,
                    item.datatype,
                    codes,
                    "Y" if item.mandatory else "N",
                ]
            )
            if item.codes:
                yield safe_row(
                    [
                        f"{dataset.name}.csv",
                        f"{item.name}_label",
                        f"{item.label} (label)",
                        "text",
                        "",
                        "N",
                    ]
                )


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


def _write(handle, dataset: Dataset) -> None:
    handle.writelines(csv_lines([header(dataset)]))
    handle.writelines(csv_lines(rows(dataset)))


def export_csv(
    out: Path, *, user=None, progress: Callable[[int, int, str], None] = no_progress
) -> list[Path]:
    """Write every dataset's CSV and the data dictionary into the folder `out`."""
    out.mkdir(parents=True, exist_ok=True)
    sets = datasets(user=user)
    written = []
    for number, dataset in enumerate(sets):
        progress(number, len(sets) + 1, f"Writing {dataset.name}.csv")
        path = out / f"{dataset.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            _write(handle, dataset)
        written.append(path)
    path = out / "data_dictionary.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.writelines(csv_lines(dictionary_rows(sets)))
    written.append(path)
    return written


def export_analysis_csv(path: Path, name: str, *, user=None) -> Path:
    """The analysis file called `name` as one CSV file."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        _write(handle, analysis_dataset(name, user=user))
    return path


def export_csv_zip(
    path: Path, *, user=None, progress: Callable[[int, int, str], None] = no_progress
) -> Path:
    """The same files in one ZIP archive, each streamed into it row by row."""
    sets = datasets(user=user)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, dataset in enumerate(sets):
            progress(number, len(sets) + 1, f"Writing {dataset.name}.csv")
            with _member(archive, f"{dataset.name}.csv") as handle:
                _write(handle, dataset)
        with _member(archive, "data_dictionary.csv") as handle:
            handle.writelines(csv_lines(dictionary_rows(sets)))
    return path


def _member(archive: zipfile.ZipFile, name: str) -> io.TextIOWrapper:
    """A text file written straight into the archive (streamed, never held in memory)."""
    return io.TextIOWrapper(archive.open(name, "w"), encoding="utf-8", newline="")
