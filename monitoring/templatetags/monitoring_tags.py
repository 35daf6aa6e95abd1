from html import escape

from django import template
from django.utils.safestring import mark_safe

register = template.Library()


def _icon(cell) -> str:
    """The HTML of a status icon (status_icon). Its parts are the cell's own strings and
    numbers, escaped here as Django's escape() does (html.escape), without its lazy-text
    checks: the dashboard draws 275 icons a page."""
    status, title, icon = escape(str(cell.status)), escape(str(cell.title)), escape(cell.icon)
    if cell.url:
        html = (
            f'<a class="status-icon status-{status}" href="{escape(str(cell.url))}" '
            f'title="{title}" aria-label="{title}">{icon}</a>'
        )
    else:
        html = (
            f'<span class="status-icon status-{status}" title="{title}" role="img" '
            f'aria-label="{title}">{icon}</span>'
        )
    if cell.open_queries:
        html += (
            '<span class="badge text-bg-danger query-count" title="open queries">'
            f"{int(cell.open_queries)}</span>"
        )
    return html


@register.simple_tag
def status_icon(cell) -> str:
    """A status icon: its shape and colour differ by status (overview.ICONS, trialsite.css),
    a link where the cell has one, and the number of open queries. `cell` has status, title,
    url, open_queries and icon. A tag rather than an included template: the dashboard shows
    275 a page."""
    return mark_safe(_icon(cell)) if cell else ""  # noqa: S308 (escaped by _icon)


@register.simple_tag
def status_cells(cells) -> str:
    """A table cell (<td>) with the status icon of each of `cells` (empty for None): a row of
    the dashboard in one tag rather than a loop of 9 tags."""
    html = "".join(f"<td>{_icon(cell) if cell else ''}</td>" for cell in cells)
    return mark_safe(html)  # noqa: S308 (escaped by _icon)
