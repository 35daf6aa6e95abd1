"""CSV cells that are safe to open in a spreadsheet.

A text cell starting with = + - @ (or a tab or carriage return) is read by spreadsheet programs
as a formula; such cells get a leading apostrophe (OWASP "CSV injection"). Numbers, negative
ones included, are written as they are.
"""

import csv
import re
from collections.abc import Iterable
from decimal import Decimal

from django.http import HttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, int | float | Decimal):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def safe_row(values) -> list[str]:
    return [safe_cell(value) for value in values]


def csv_response(filename: str, header: list[str], rows: Iterable) -> HttpResponse:
    """A CSV download of `rows` (each a list of values) under `header`, every cell safe."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(safe_row(row) for row in rows)
    return response
