"""Inline SVG charts for the HTML and PDF reports: no script, no external files.

Each chart is a small, self-describing SVG: every value is written as a number beside its
bar or in the legend, so no reader depends on colour alone. All text is escaped.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from reporter.render.filters import number, share

# Status colours: dark enough for white text and for a black-and-white print.
GREEN = "#2e7d32"
RED = "#c62828"
AMBER = "#d98a00"
OLIVE = "#8d9b2a"
GREY = "#8a8f98"
BLUE = "#37628f"
TEAL = "#1f7a73"
INK = "#1f2933"
MUTED = "#5f6b7a"
TRACK = "#edf0f3"
FONT = "DejaVu Sans, Verdana, sans-serif"
LABEL_CHARS = 34


@dataclass(frozen=True)
class Segment:
    """One slice of a donut or one series of a stacked bar."""

    label: str
    value: int
    colour: str


def _clip(label: str, limit: int = LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _svg(width: int, height: int, label: str, body: str) -> Markup:
    # Safe: every text in ``body`` and ``label`` was escaped where it was written.
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-label="{escape(label)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}">'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def _arc(cx: float, cy: float, outer: float, inner: float, start: float, end: float) -> str:
    """The path of a ring segment between two angles (radians, clockwise from 12 o'clock)."""
    large = 1 if end - start > math.pi else 0

    def point(radius: float, angle: float) -> str:
        return f"{cx + radius * math.sin(angle):.2f} {cy - radius * math.cos(angle):.2f}"

    return (
        f"M {point(outer, start)} A {outer} {outer} 0 {large} 1 {point(outer, end)} "
        f"L {point(inner, end)} A {inner} {inner} 0 {large} 0 {point(inner, start)} Z"
    )


def donut(segments: Sequence[Segment], centre: str, caption: str, label: str) -> Markup:
    """A ring chart with a legend listing every segment's count and share.

    Args:
        segments: the slices, in legend order; zero values are listed but not drawn.
        centre: the large figure in the middle (e.g. ``"93.5%"``).
        caption: the small line under it (e.g. ``"compliant"``).
        label: the accessible name of the chart.
    """
    total = sum(s.value for s in segments)
    cx, cy, outer, inner = 80, 80, 70, 46
    parts = [
        f'<circle cx="{cx}" cy="{cy}" r="{(outer + inner) / 2}" fill="none" '
        f'stroke="{TRACK}" stroke-width="{outer - inner}"/>'
    ]
    angle = 0.0
    for segment in segments:
        if not segment.value or not total:
            continue
        sweep = 2 * math.pi * segment.value / total
        if sweep >= 2 * math.pi - 1e-6:  # a full ring: an arc cannot start where it ends
            parts.append(
                f'<circle cx="{cx}" cy="{cy}" r="{(outer + inner) / 2}" fill="none" '
                f'stroke="{segment.colour}" stroke-width="{outer - inner}"/>'
            )
        else:
            parts.append(
                f'<path d="{_arc(cx, cy, outer, inner, angle, angle + sweep)}" '
                f'fill="{segment.colour}" stroke="#fff" stroke-width="1.5"/>'
            )
        angle += sweep
    parts.append(
        f'<text x="{cx}" y="{cy + 2}" text-anchor="middle" font-size="21" font-weight="bold" '
        f'fill="{INK}">{escape(centre)}</text>'
        f'<text x="{cx}" y="{cy + 20}" text-anchor="middle" font-size="11" '
        f'fill="{MUTED}">{escape(caption)}</text>'
    )
    # Up to five legend rows share the ring's height; more are packed closer.
    step = 28 if len(segments) <= 5 else 130 // max(len(segments) - 1, 1)
    for row, segment in enumerate(segments):
        y = 22 + row * step if len(segments) > 5 else 30 + row * step
        parts.append(
            f'<rect x="178" y="{y - 11}" width="14" height="14" rx="2" fill="{segment.colour}"/>'
            f'<text x="200" y="{y}" font-size="12" fill="{INK}">{escape(segment.label)}</text>'
            f'<text x="370" y="{y}" font-size="12" text-anchor="end" fill="{INK}" '
            f'font-weight="bold">{escape(number(segment.value))}</text>'
            f'<text x="420" y="{y}" font-size="11" text-anchor="end" fill="{MUTED}">'
            f"{escape(share(segment.value, total))}</text>"
        )
    return _svg(430, 160, label, "".join(parts))


def bars(items: Sequence[tuple[str, int]], colour: str, label: str, unit: str) -> Markup:
    """Horizontal bars, largest first as given, each with its value at the end.

    Args:
        items: (label, value) pairs, in display order.
        colour: the bar colour.
        label: the accessible name of the chart.
        unit: what the values count, shown under the chart (e.g. ``"servers failing"``).
    """
    if not items:
        return _svg(430, 40, label, f'<text x="0" y="24" font-size="12" fill="{MUTED}">None</text>')
    peak = max(value for _, value in items) or 1
    left, width, row_height = 190, 190, 22
    parts = []
    for row, (name, value) in enumerate(items):
        y = 6 + row * row_height
        length = max(2.0, width * value / peak) if value else 0
        parts.append(
            f'<text x="{left - 8}" y="{y + 13}" font-size="11" text-anchor="end" '
            f'fill="{INK}"><title>{escape(name)}</title>{escape(_clip(name, 26))}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{width}" height="15" fill="{TRACK}"/>'
            f'<rect x="{left}" y="{y + 2}" width="{length:.1f}" height="15" fill="{colour}"/>'
            f'<text x="{left + width + 6}" y="{y + 14}" font-size="11" font-weight="bold" '
            f'fill="{INK}">{escape(number(value))}</text>'
        )
    height = 6 + len(items) * row_height + 18
    parts.append(
        f'<text x="{left}" y="{height - 4}" font-size="10" fill="{MUTED}">{escape(unit)}</text>'
    )
    return _svg(430, height, label, "".join(parts))


def legend(series: Sequence[tuple[str, str]]) -> list[str]:
    """SVG parts of a one-line legend across the top: a swatch and the name of each series."""
    parts = []
    x = 0
    for name, colour in series:
        parts.append(
            f'<rect x="{x}" y="4" width="12" height="12" rx="2" fill="{colour}"/>'
            f'<text x="{x + 17}" y="14" font-size="11" fill="{INK}">{escape(name)}</text>'
        )
        x += 26 + 7 * len(name)
    return parts


def stacked_bars(
    rows: Sequence[tuple[str, Sequence[int]]], series: Sequence[tuple[str, str]], label: str
) -> Markup:
    """Horizontal bars split into series (e.g. succeeded / warning / failed), with a legend.

    Args:
        rows: (label, one value per series) pairs, in display order.
        series: (name, colour) per series.
        label: the accessible name of the chart.
    """
    left, width, row_height, legend_height = 190, 190, 22, 26
    parts = legend(series)
    if not rows:
        parts.append(f'<text x="0" y="44" font-size="12" fill="{MUTED}">None</text>')
        return _svg(430, 56, label, "".join(parts))
    peak = max(sum(values) for _, values in rows) or 1
    for row, (name, values) in enumerate(rows):
        y = legend_height + row * row_height
        parts.append(
            f'<text x="{left - 8}" y="{y + 13}" font-size="11" text-anchor="end" '
            f'fill="{INK}"><title>{escape(name)}</title>{escape(_clip(name, 26))}</text>'
        )
        offset = float(left)
        for value, (series_name, colour) in zip(values, series, strict=True):
            if not value:
                continue
            length = width * value / peak
            parts.append(
                f'<rect x="{offset:.1f}" y="{y + 2}" width="{length:.1f}" height="15" '
                f'fill="{colour}"><title>{escape(series_name)}: {escape(number(value))}'
                f"</title></rect>"
            )
            offset += length
        parts.append(
            f'<text x="{offset + 6:.1f}" y="{y + 14}" font-size="11" font-weight="bold" '
            f'fill="{INK}">{escape(number(sum(values)))}</text>'
        )
    height = legend_height + len(rows) * row_height + 6
    return _svg(430, height, label, "".join(parts))


def columns(
    periods: Sequence[tuple[str, Sequence[int], str]],
    series: Sequence[tuple[str, str]],
    label: str,
) -> Markup:
    """Vertical columns, one per period, split into series (e.g. servers by status), with a
    figure above each (e.g. its compliance %) and a legend.

    Args:
        periods: (name under the column, one value per series, text above it), in order.
        series: (name, colour) per series.
        label: the accessible name of the chart.
    """
    width, legend_height, top, plot_height, bottom = 860, 24, 20, 150, 22
    parts = legend(series)
    base = legend_height + top + plot_height
    height = base + bottom
    if not periods:
        parts.append(f'<text x="0" y="44" font-size="12" fill="{MUTED}">None</text>')
        return _svg(width, 56, label, "".join(parts))
    peak = max(sum(values) for _, values, _ in periods) or 1
    slot = width / max(len(periods), 4)  # a few periods stay columns, not slabs
    bar = min(44.0, slot * 0.6)
    parts.append(
        f'<line x1="0" y1="{base}" x2="{slot * len(periods):.1f}" y2="{base}" '
        f'stroke="{MUTED}" stroke-width="1"/>'
    )
    for index, (name, values, above) in enumerate(periods):
        left = slot * index + (slot - bar) / 2
        y = float(base)
        for value, (series_name, colour) in zip(values, series, strict=True):
            if not value:
                continue
            length = plot_height * value / peak
            y -= length
            parts.append(
                f'<rect x="{left:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{length:.1f}" '
                f'fill="{colour}"><title>{escape(name)}, {escape(series_name)}: '
                f"{escape(number(value))}</title></rect>"
            )
        middle = left + bar / 2
        parts.append(
            f'<text x="{middle:.1f}" y="{y - 5:.1f}" font-size="11" font-weight="bold" '
            f'text-anchor="middle" fill="{INK}">{escape(above)}</text>'
            f'<text x="{middle:.1f}" y="{base + 15}" font-size="11" text-anchor="middle" '
            f'fill="{INK}">{escape(_clip(name, 12))}</text>'
        )
    return _svg(width, height, label, "".join(parts))
