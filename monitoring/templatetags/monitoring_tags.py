from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def status_icon(cell) -> str:
    """A status icon: its shape and colour differ by status (overview.ICONS, trialsite.css),
    a link where the cell has one, and the number of open queries. `cell` has status, title,
    url, open_queries and icon. A tag rather than an included template: the dashboard shows
    275 a page."""
    if not cell:
        return ""
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
    if not cell.open_queries:
        return icon
    return format_html(
        '{}<span class="badge text-bg-danger query-count" title="open queries">{}</span>',
        icon, cell.open_queries,
    )  # fmt: skip
