"""Status icons (monitoring_tags): what they say is escaped as Django escapes it."""

import pytest
from django.template import Context, Template
from django.utils.html import format_html

from monitoring.dashboard import Cell

HOSTILE = "M1: <script>alert('x')</script> & \"quoted\""


def _reference(cell) -> str:
    """The icon as format_html() draws it, which escapes every part."""
    if cell.url:
        icon = format_html(
            '<a class="status-icon status-{}" href="{}" title="{}" aria-label="{}">{}</a>',
            cell.status, cell.url, cell.title, cell.title, cell.icon,
        )  # fmt: skip
    else:
        icon = format_html(
            '<span class="status-icon status-{}" title="{}" role="img" aria-label="{}">{}</span>',
            cell.status, cell.title, cell.title, cell.icon,
        )  # fmt: skip
    if cell.open_queries:
        icon += format_html(
            '<span class="badge text-bg-danger query-count" title="open queries">{}</span>',
            cell.open_queries,
        )
    return icon


CELLS = [
    Cell("complete", "M1: Complete (2 of 2 forms complete)", "/participants/7/visits/9/", 0, 9),
    Cell("overdue", HOSTILE, '/x?a=1&b="2"<', 3, 9),
    Cell("<bad>", HOSTILE, None, 1),
    Cell("not_started", "Enrolment: no forms", None),
]


def _render(text: str, **context) -> str:
    return Template("{% load monitoring_tags %}" + text).render(Context(context))


@pytest.mark.parametrize("cell", CELLS)
def test_an_icon_is_its_parts_escaped(cell):
    assert _render("{% status_icon cell %}", cell=cell) == _reference(cell)
    assert "<script>" not in _render("{% status_icon cell %}", cell=cell)


def test_a_row_of_icons_has_a_table_cell_each_and_an_empty_one_for_no_visit():
    cells = [*CELLS, None]
    html = _render("{% status_cells cells %}", cells=cells)
    assert html == "".join(f"<td>{_reference(c)}</td>" for c in CELLS) + "<td></td>"
    assert _render("{% status_icon cell %}", cell=None) == ""
