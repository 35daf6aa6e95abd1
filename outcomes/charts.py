"""Server-rendered SVG line charts: the same markup serves pages and PDFs (no JavaScript).

Every plotted point carries its numbers in data attributes (data-series, data-x, data-value,
data-sd, data-n), so tests can check that what is drawn equals the database.
"""

from dataclasses import dataclass, field
from html import escape

PALETTE = ("#0d6efd", "#d63384", "#198754", "#fd7e14", "#6f42c1")
WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 28, 56


@dataclass(frozen=True)
class Point:
    x: str
    y: float
    sd: float | None = None
    n: int | None = None


@dataclass(frozen=True)
class Series:
    label: str
    points: list[Point] = field(default_factory=list)


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def line_chart(
    *, title: str, x_labels: list[str], series: list[Series], y_max: float, y_label: str
) -> str:
    """An SVG line chart of `series` over the categories `x_labels`, y from 0 to `y_max`."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(x_labels) - 1, 1)
    x_of = {label: LEFT + i * step for i, label in enumerate(x_labels)}

    def y_of(value: float) -> float:
        clipped = min(max(value, 0.0), y_max)
        return TOP + plot_h - clipped / y_max * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="outcome-chart">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    for i in range(6):  # horizontal grid lines and y ticks
        value = y_max * i / 5
        y = y_of(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dee2e6"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
            f"{_fmt(value)}</text>"
        )
    parts.append(
        f'<text x="12" y="{TOP + plot_h / 2:.1f}" font-size="10" text-anchor="middle" '
        f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    for label, x in x_of.items():
        parts.append(
            f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" font-size="10" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    for index, s in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        points = [p for p in s.points if p.x in x_of]
        if len(points) > 1:
            path = " ".join(f"{x_of[p.x]:.1f},{y_of(p.y):.1f}" for p in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for p in points:
            x, y = x_of[p.x], y_of(p.y)
            if p.sd:
                parts.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y_of(p.y - p.sd):.1f}" '
                    f'y2="{y_of(p.y + p.sd):.1f}" stroke="{colour}" stroke-width="1"/>'
                )
            attrs = f'data-series="{escape(s.label)}" data-x="{escape(p.x)}" data-value="{p.y!r}"'
            if p.sd is not None:
                attrs += f' data-sd="{p.sd!r}"'
            if p.n is not None:
                attrs += f' data-n="{p.n}"'
            tip = f"{s.label}, {p.x}: {_fmt(p.y)}" + (f" ± {_fmt(p.sd)}" if p.sd else "")
            tip += f" (n={p.n})" if p.n is not None else ""
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}" {attrs}>'
                f"<title>{escape(tip)}</title></circle>"
            )
        legend_x = LEFT + index * 170
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 18}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="{HEIGHT - 9}" font-size="11">{escape(s.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
