"""Charts drawn on the server as SVG: no script, no CDN, readable offline and in print.

Each chart scales to its box (a viewBox, width 100%), carries a text alternative (`<title>`
per mark and an aria-label), and takes its labels escaped: channel names come from
outside.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT, PAD = 720, 180, 24


COLOURS = ("#2f5fb3", "#e07b39", "#3a9d5d", "#b04a9a", "#c9a227", "#9aa5b8")


def stacked(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], title: str
) -> Markup:
    """Vertical bars (e.g. calls a day), each stacked by series (e.g. channels, the last
    one "other"), in `COLOURS` order; every part says its label, series and value."""
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    top = max([*totals, 1.0])
    step = (WIDTH - PAD) / max(len(labels), 1)
    parts = []
    for i, label in enumerate(labels):
        x, base = PAD + i * step, float(HEIGHT - PAD)
        for j, (name, values) in enumerate(series):
            h = (HEIGHT - PAD) * values[i] / top
            if h <= 0:
                continue
            base -= h
            text = escape(f"{label}: {name}, {_n(values[i])} calls")
            parts.append(
                f'<rect x="{x + step * 0.1:.1f}" y="{base:.1f}" width="{step * 0.8:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[j % len(COLOURS)]}"><title>{text}</title></rect>'
            )
    axis = (
        f'<text x="0" y="12" font-size="11" fill="#6b7280">{_n(top)}</text>'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH}" y2="{HEIGHT - PAD}" stroke="#ccd"/>'
    )
    ends = ""
    if labels:
        ends = (
            f'<text x="{PAD}" y="{HEIGHT - 6}" font-size="11" fill="#6b7280">'
            f"{escape(labels[0])}</text>"
            f'<text x="{WIDTH}" y="{HEIGHT - 6}" font-size="11" fill="#6b7280" '
            f'text-anchor="end">{escape(labels[-1])}</text>'
        )
    return Markup(  # noqa: S704 - every text above is escaped, every number ours
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="none">'
        f"<title>{escape(title)}</title>{axis}{''.join(parts)}{ends}</svg>"
    )


def legend(names: Sequence[str]) -> Markup:
    """The series' names beside their colours, as `stacked` drew them."""
    items = "".join(
        f'<li><span class="swatch" style="background:{COLOURS[j % len(COLOURS)]}"></span>'
        f"{escape(name)}</li>"
        for j, name in enumerate(names)
    )
    return Markup(f'<ul class="legend">{items}</ul>')  # noqa: S704 - names escaped


def heatmap(rows: Sequence[str], grid: Sequence[Sequence[int]], title: str, what: str) -> Markup:
    """A weekday x hour grid: the darker, the more `what`."""
    top = max([max(r) for r in grid if r] + [1])
    cell, left, head = 26, 34, 16
    parts = []
    for h in range(0, 24, 3):
        parts.append(
            f'<text x="{left + h * cell + 2}" y="12" font-size="10" fill="#6b7280">{h}</text>'
        )
    for d, (name, row) in enumerate(zip(rows, grid, strict=True)):
        y = head + d * cell
        parts.append(
            f'<text x="0" y="{y + 17}" font-size="11" fill="#1d2330">{escape(name)}</text>'
        )
        for h, count in enumerate(row):
            shade = 0.08 + 0.92 * count / top if count else 0.0
            parts.append(
                f'<rect x="{left + h * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="#b3261e" fill-opacity="{shade:.2f}" stroke="#e3e6eb">'
                f"<title>{escape(name)} {h:02d}:00: {count} {escape(what)}</title></rect>"
            )
    width, height = left + 24 * cell, head + len(rows) * cell
    return Markup(  # noqa: S704 - every text above is escaped, every number ours
        f'<svg class="heat" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{"".join(parts)}</svg>'
    )


def _n(value: float) -> str:
    return f"{value:,.0f}" if abs(value - round(value)) < 0.05 else f"{value:,.1f}"
