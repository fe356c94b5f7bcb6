"""Inline SVG charts shared by report.html and compare.html: numbers in, markup out, no scripts and no network.

Everything drawn is built from numbers; the only text is labels passed through ``escape``, so the markup is safe to
embed unescaped."""

from __future__ import annotations

import math
from typing import Any, Callable

from markupsafe import Markup, escape

# Stroke colours of further series (GRPO's rewards, compared runs): one class each, c0, c1, ...
SERIES_COLOURS = ("#1a7f37", "#8250df", "#bf8700", "#0550ae", "#cf222e", "#57606a")
MARGINS = (56, 16, 12, 36)  # left, right, top, bottom: room for the tick labels


def points(series: Any) -> list[tuple[float, float]]:
    """The finite ``(x, y)`` pairs of a ``[[x, y], ...]`` series; anything malformed is skipped, not raised."""
    out = []
    for item in series or []:
        try:
            x, y = float(item[0]), float(item[1])
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(x) and math.isfinite(y):
            out.append((x, y))
    return out


def span(values: list[float]) -> tuple[float, float]:
    """The range to scale ``values`` into; a single value gets a unit-wide range so nothing divides by zero."""
    lo, hi = min(values), max(values)
    return lo, hi if hi > lo else lo + 1


def frame(label: str, width: int, height: int, y0: float, y1: float, sy: Callable[[float], float],
          x_label: str, css: str = "loss") -> list[str]:
    """The opening tag, both axes, five horizontal grid lines with their y ticks, and the x axis' label."""
    left, right, top, bottom = MARGINS
    parts = [
        f'<svg class="{escape(css)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}">',
        f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}"/>',
    ]
    for i in range(5):
        y = y0 + (y1 - y0) * i / 4
        parts.append(f'<line class="grid" x1="{left}" y1="{sy(y):.1f}" x2="{width - right}" y2="{sy(y):.1f}"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.3g}</text>')
    parts.append(f'<text class="tick xlabel" x="{(width + left) / 2:.0f}" y="{height - 4}" text-anchor="middle">'
                 f'{escape(x_label)}</text>')
    return parts


def curves_svg(curves: dict[str, Any], label: str, empty: str, width: int = 640, height: int = 260,
               classes: dict[str, str] | None = None, x_label: str = "step") -> Markup:
    """Named ``[[step, value], ...]`` series as an inline SVG, one polyline each (CSS class: the series name, or
    ``classes[name]``). Built from numbers only, so marking it safe lets no user text through unescaped."""
    series = {name: points(values) for name, values in curves.items()}
    every = [p for values in series.values() for p in values]
    if not every:
        return Markup(f'<p class="muted">{escape(empty)}</p>')
    left, right, top, bottom = MARGINS
    x0, x1 = span([p[0] for p in every])
    y0, y1 = span([p[1] for p in every])

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def sy(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * (height - top - bottom)

    parts = frame(label, width, height, y0, y1, sy, x_label)
    for x in (x0, (x0 + x1) / 2, x1):
        parts.append(f'<text class="tick" x="{sx(x):.1f}" y="{height - bottom + 16}" text-anchor="middle">{x:.4g}</text>')
    for name, values in series.items():
        if not values:
            continue
        css = escape((classes or {}).get(name, name))
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in values)
        parts.append(f'<polyline class="{css}" points="{coords}"/>')
        # A single point draws no line; a dot keeps it visible.
        parts.extend(f'<circle class="{css}" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5"/>' for x, y in values
                     if name.endswith("validation") or len(values) == 1)
    parts.append("</svg>")
    return Markup("".join(parts))
