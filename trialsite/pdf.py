"""The one WeasyPrint helper: a template under templates/pdf/ and a ready context to PDF bytes.

Templates get their data ready-made and never query the database.

A long document is laid out by several worker processes at once. Its template marks with
PART_BREAK the places where a new page starts anyway (before an element that breaks the
page), so the document can be cut there without moving anything: the parts are laid out side
by side, without their page numbers, by the free worker processes of the cluster and this one
(trialsite/spread.py); the pages are then joined in order with pikepdf, "Page X of Y" is
printed onto each from a second, empty rendering of the same page boxes (spread the same
way), and the bookmarks are rebuilt. The pages are the same as one rendering of the whole
would give.
"""

import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape

from trialsite.spread import job, spread

logger = logging.getLogger(__name__)

PART_BREAK = "<!--part-->"

# Appended to the head of each part: page numbers come from the stamp rendering.
_WITHOUT_NUMBERS = "<style>@page { @bottom-right { content: none; } }</style>"
# Appended to the head of the stamp rendering: only the page number, from a hidden element.
_NUMBERS_ONLY = (
    "<style>@page { @top-left { content: none; } @top-center { content: none; }"
    " @top-right { content: none; } @bottom-left { content: none; }"
    " @bottom-center { content: none; } @bottom-right { content: string(page-number); } }"
    " .page-number { visibility: hidden; string-set: page-number content(); margin: 0;"
    " page-break-before: always; } .page-number:first-child { page-break-before: auto; }"
    "</style>"
)


@dataclass(frozen=True)
class Pdf:
    content: bytes
    pages: int


@dataclass(frozen=True)
class _Part:
    content: bytes
    pages: int
    bookmarks: list  # per page: WeasyPrint's (level, label, (x, y), state) in CSS px

    def pack(self) -> bytes:
        """One line of JSON (pages, bookmarks), then the PDF: what a worker hands back."""
        return json.dumps([self.pages, self.bookmarks]).encode() + b"\n" + self.content

    @classmethod
    def unpack(cls, packed: bytes) -> "_Part":
        line, _, content = packed.partition(b"\n")
        pages, bookmarks = json.loads(line)
        return cls(content, pages, bookmarks)


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
    parts = settings.PDF_PARTS
    if parts < 2 or PART_BREAK not in html or len(html) < settings.PDF_PARALLEL_FROM_CHARS:
        return _render_whole(html, laid_out)
    return _render_in_parts(html, parts, laid_out)


def _html(string: str):
    from weasyprint import HTML  # imported here: loading WeasyPrint takes about a second

    return HTML(string=string, base_url=str(settings.BASE_DIR))


def _render_whole(html: str, laid_out: Callable[[int], None]) -> Pdf:
    document = _html(html).render()
    laid_out(len(document.pages))
    return Pdf(document.write_pdf(), len(document.pages))


# --- In parts ------------------------------------------------------------------------------------
def groups(parts: list[str], count: int) -> list[str]:
    """Consecutive parts joined into about `count` groups of roughly equal length (a group
    closes once the next part would take it past its share by more than half that part)."""
    target = sum(len(p) for p in parts) / count
    grouped, current = [], ""
    for part in parts:
        if current and len(current) + len(part) / 2 > target:
            grouped.append(current)
            current = ""
        current += part
    grouped.append(current)
    return grouped


def _render_in_parts(html: str, count: int, laid_out: Callable[[int], None]) -> Pdf:
    head, _, rest = html.partition("<body>")
    body = rest.rpartition("</body>")[0]
    head, _, _ = head.partition("</head>")
    # The largest groups first: the smaller ones fill in at the end.
    bodies = groups(body.split(PART_BREAK), count)
    order = sorted(range(len(bodies)), key=lambda i: -len(bodies[i]))
    opening = f"{head}{_WITHOUT_NUMBERS}</head><body>"
    laid, elsewhere = spread(_LAY_OUT_PART, [f"{opening}{bodies[i]}</body>" for i in order])
    by_index = sorted(zip(order, laid, strict=True), key=lambda pair: pair[0])
    parts = [_Part.unpack(packed) for _, packed in by_index]
    total = sum(p.pages for p in parts)
    logger.info(
        "Laid out %d pages in %d parts, %d of them by other worker processes",
        total,
        len(parts),
        elsewhere,
    )
    laid_out(total)
    numbers = [f"Page {n} of {total}" for n in range(1, total + 1)]
    step = -(-total // max(1, count // 2))
    stamps, _ = spread(
        _NUMBER_PAGES,
        [json.dumps([head, numbers[start : start + step]]) for start in range(0, total, step)],
    )
    return Pdf(_join(parts, stamps), total)


@job
def lay_out_part(html: str) -> bytes:
    document = _html(html).render()
    return _Part(
        document.write_pdf(),
        len(document.pages),
        [list(page.bookmarks) for page in document.pages],
    ).pack()


@job
def number_pages(head_and_numbers: str) -> bytes:
    head, numbers = json.loads(head_and_numbers)
    pages = "".join(f'<p class="page-number">{escape(n)}</p>' for n in numbers)
    return _html(f"{head}{_NUMBERS_ONLY}</head><body>{pages}</body></html>").write_pdf()


_LAY_OUT_PART = f"{__name__}.lay_out_part"
_NUMBER_PAGES = f"{__name__}.number_pages"


def _join(parts: list[_Part], stamps: list[bytes]) -> bytes:
    """The parts' pages in order, each with its page number laid over it, the first part's
    document information, and one bookmark tree."""
    import pikepdf

    sources = [pikepdf.Pdf.open(io.BytesIO(p.content)) for p in parts]
    stamped = [pikepdf.Pdf.open(io.BytesIO(s)) for s in stamps]  # kept open until saved
    numbers = [page for s in stamped for page in s.pages]
    joined = pikepdf.Pdf.new()
    for source in sources:
        joined.pages.extend(source.pages)
    for page, number in zip(joined.pages, numbers, strict=True):
        page.add_overlay(number)
    for key, value in sources[0].docinfo.items():
        joined.docinfo[key] = value
    _bookmark(joined, [marks for part in parts for marks in part.bookmarks])
    out = io.BytesIO()
    joined.save(out, compress_streams=True)
    return out.getvalue()


def _bookmark(pdf, marks_by_page: list[list]) -> None:
    """WeasyPrint's bookmarks (heading level, label, position in CSS px) as the PDF outline:
    each under the last bookmark of a lower level before it, as WeasyPrint nests them."""
    import pikepdf

    px = 0.75  # CSS px to PDF points
    with pdf.open_outline() as outline:
        open_items: list[tuple[int, pikepdf.OutlineItem]] = []
        for index, marks in enumerate(marks_by_page):
            height = float(pdf.pages[index].mediabox[3])
            for level, label, (x, y), _state in marks:
                item = pikepdf.OutlineItem(
                    label,
                    index,
                    pikepdf.PageLocation.XYZ,
                    left=x * px,
                    top=height - y * px,
                )
                while open_items and open_items[-1][0] >= level:
                    open_items.pop()
                siblings = open_items[-1][1].children if open_items else outline.root
                siblings.append(item)
                open_items.append((level, item))
