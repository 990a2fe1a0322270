"""Server-rendered SVG charts: stacked columns and labelled bars, no script and no inline style.

Colours come from classes the console's stylesheet defines; every bar also carries its number as text and a
`<title>`, so nothing is told by colour alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

WIDTH = 720
BAR_HEIGHT = 22
LABEL_WIDTH = 300
# Hatching the stylesheet lays over refusals and errors, so they differ from answers by more than hue.
PATTERNS = (
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" class="hatch-bg"/>'
    '<line x1="0" y1="0" x2="0" y2="6" class="hatch-line"/></pattern>'
    '<pattern id="dots" width="6" height="6" patternUnits="userSpaceOnUse">'
    '<rect width="6" height="6" class="dots-bg"/>'
    '<circle cx="3" cy="3" r="1.5" class="dots-dot"/></pattern></defs>'
)


def _svg(height: int, label: str, body: list[str]) -> Markup:
    # Every text put in below went through `escape`; the rest is markup this module wrote.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
        + "".join(body)
        + "</svg>"
    )


def horizontal_bars(label: str, values: Sequence[tuple[str, float]], unit: str = "") -> Markup:
    """One bar a row, its label on the left and its value at its end."""
    if not values:
        return Markup('<p class="empty">No data in this period.</p>')
    top = max(value for _, value in values) or 1.0
    span = WIDTH - LABEL_WIDTH - 130  # room for the value written after the longest bar
    body = []
    for row, (name, value) in enumerate(values):
        y = row * (BAR_HEIGHT + 6) + 4
        width = max(1.0, span * value / top)
        shown = f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() else f"{int(value):,}"
        text = escape(name if len(name) <= 44 else name[:43] + "…")
        body.append(
            f"<g><title>{escape(name)}: {shown}{escape(unit)}</title>"
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 15}" class="label" text-anchor="end">{text}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" class="bar"/>'
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + 15}" class="value">'
            f"{shown}{escape(unit)}</text></g>"
        )
    return _svg(len(values) * (BAR_HEIGHT + 6) + 8, label, body)


def stacked_columns(
    label: str, columns: Sequence[tuple[str, Mapping[str, int]]], series: Sequence[str]
) -> Markup:
    """One column a category (a day), stacked by series (outcomes), with the total above and a legend in
    words; each series has its own class (`s-<name>`) and pattern of the stylesheet."""
    height, base, legend_y = 240, 190, 232
    top = max((sum(parts.values()) for _, parts in columns), default=0) or 1
    step = (WIDTH - 40) / max(1, len(columns))
    bar = max(6.0, step * 0.6)
    body = [PATTERNS, f'<line x1="30" y1="{base}" x2="{WIDTH - 6}" y2="{base}" class="axis"/>']
    for index, (name, parts) in enumerate(columns):
        x = 34 + index * step
        y = float(base)
        for kind in series:
            count = parts.get(kind, 0)
            if not count:
                continue
            h = (base - 20) * count / top
            y -= h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" class="s-{escape(kind)}">'
                f"<title>{escape(name)}: {count} {escape(kind)}</title></rect>"
            )
        total = sum(parts.values())
        if total:
            body.append(
                f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" class="value" '
                f'text-anchor="middle">{total}</text>'
            )
        body.append(
            f'<text x="{x + bar / 2:.1f}" y="{base + 16}" class="tick" '
            f'text-anchor="middle">{escape(name)}</text>'
        )
    x = 34.0
    for kind in series:
        body.append(
            f'<rect x="{x:.1f}" y="{legend_y - 11}" width="12" height="12" class="s-{escape(kind)}"/>'
            f'<text x="{x + 16:.1f}" y="{legend_y}" class="label">{escape(kind)}</text>'
        )
        x += 16 + 9 * len(kind) + 24
    return _svg(height, label, body)
