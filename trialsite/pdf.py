"""The one WeasyPrint helper: a template under templates/pdf/ and a ready context to PDF bytes.

Templates get their data ready-made and never query the database.
"""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone


def render_pdf(template: str, context: dict, *, by) -> bytes:
    from weasyprint import HTML  # imported here: loading WeasyPrint takes about a second

    now = timezone.localtime(timezone.now(), timezone.get_default_timezone())
    html = render_to_string(
        template,
        {
            "study": settings.STUDY_NAME,
            "generated_at": now.strftime("%Y-%m-%d %H:%M %Z"),
            "generated_by": by.printed_name,
            **context,
        },
    )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
