"""The one WeasyPrint helper: a template under templates/pdf/ and a ready context to PDF bytes.

Templates get their data ready-made and never query the database.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone


@dataclass(frozen=True)
class Pdf:
    content: bytes
    pages: int


def render_pdf(
    template: str,
    context: dict,
    *,
    by,
    zone=None,
    laid_out: Callable[[int], None] = lambda pages: None,
) -> Pdf:
    """Render `template` with `context`; times are printed in `zone` (the site's), and
    `laid_out` hears the page count before the file is written."""
    from weasyprint import HTML  # imported here: loading WeasyPrint takes about a second

    now = timezone.localtime(timezone.now(), zone or timezone.get_default_timezone())
    html = render_to_string(
        template,
        {
            "study": settings.STUDY_NAME,
            "generated_at": now.strftime("%Y-%m-%d %H:%M %Z"),
            "generated_by": by.printed_name,
            **context,
        },
    )
    document = HTML(string=html, base_url=str(settings.BASE_DIR)).render()
    laid_out(len(document.pages))
    return Pdf(document.write_pdf(), len(document.pages))
