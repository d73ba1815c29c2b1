"""Charts as server-rendered inline SVG strings: pure functions, no JavaScript, no build.

Every chart is an ``<svg role="img">`` with a ``<title>``; every mark has a ``<title>``
tooltip with its exact value. Colours come from CSS classes (``static/dashboard.css``),
so the Content-Security-Policy can forbid inline styles. Suppressed cells (fewer than k
people) are drawn as hatched placeholders labelled "suppressed", never as zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 720
HEIGHT = 260
PAD_L, PAD_R, PAD_T, PAD_B = 56, 16, 16, 48
DEFS = (
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" class="hatch-line"/>'
    "</pattern></defs>"
)


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]
    """``None``: suppressed (drawn hatched)."""
    css: str = "s1"


@dataclass(frozen=True, slots=True)
class Interval:
    """One estimate with its intervals: ``(level, lower, upper)`` sorted widest last."""

    label: str
    value: float | None
    intervals: Sequence[tuple[float, float | None, float | None]]


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _svg(title: str, body: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    t = escape(title)
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{t}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{t}</title>{DEFS}{body}</svg>'
    )


def _y_axis(y_max: float, plot_h: float, plot_w: float, ticks: int = 4) -> str:
    out = []
    for i in range(ticks + 1):
        v = y_max * i / ticks
        y = PAD_T + plot_h - plot_h * i / ticks
        out.append(
            f'<line x1="{PAD_L}" x2="{PAD_L + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{_fmt(v)}</text>'
        )
    return "".join(out)


def _legend(series: Sequence[Series], width: int) -> str:
    out, x = [], PAD_L
    for s in series:
        out.append(
            f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" class="{s.css}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 5}" class="tick">{escape(s.name)}</text>'
        )
        x += 24 + 7 * len(s.name)
    if x > width:
        return ""
    return "".join(out)


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    stacked: bool = True,
    width: int = WIDTH,
) -> str:
    """Vertical bars per category; several series stacked (or side by side)."""
    plot_w, plot_h = width - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    n = max(len(categories), 1)
    totals = []
    for i in range(len(categories)):
        vals = [s.values[i] or 0.0 for s in series]
        totals.append(sum(vals) if stacked else max(vals, default=0.0))
    y_max = _nice_max(max(totals, default=0.0))
    slot = plot_w / n
    bar_w = max(slot * 0.7, 1.0)
    parts = [_y_axis(y_max, plot_h, plot_w)]
    label_every = max(1, math.ceil(n / 16))
    for i, cat in enumerate(categories):
        x0 = PAD_L + slot * i + (slot - bar_w) / 2
        base = float(PAD_T + plot_h)
        for j, s in enumerate(series):
            value = s.values[i]
            w = bar_w if stacked else bar_w / len(series)
            x = x0 if stacked else x0 + j * w
            label = f"{cat} · {s.name}: " + (
                "suppressed (fewer than k)" if value is None else _fmt(value)
            )
            if value is None:
                h = plot_h * 0.15
                parts.append(
                    f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{w:.1f}" height="{h:.1f}" '
                    f'class="suppressed" fill="url(#hatch)"><title>{escape(label)}</title></rect>'
                )
                if stacked:
                    base -= h
                continue
            h = plot_h * value / y_max
            parts.append(
                f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{w:.1f}" height="{h:.1f}" '
                f'class="{s.css}"><title>{escape(label)}</title></rect>'
            )
            if stacked:
                base -= h
        if i % label_every == 0:
            parts.append(
                f'<text x="{x0 + bar_w / 2:.1f}" y="{PAD_T + plot_h + 14}" class="tick" '
                f'text-anchor="middle">{escape(cat)}</text>'
            )
    parts.append(_legend(series, width))
    return _svg(title, "".join(parts), width)


def interval_chart(title: str, rows: Sequence[Interval], *, percent: bool = True) -> str:
    """A forest plot: each estimate as a dot on its intervals (thick: narrowest level), a
    zero line; the lift chart of the campaign page (90 % and 95 % CIs)."""
    height = PAD_T + 34 * max(len(rows), 1) + 40
    left, right = 210, WIDTH - 24
    values = [0.0]
    for r in rows:
        if r.value is not None and math.isfinite(r.value):
            values.append(r.value)
        for _lvl, lo, hi in r.intervals:
            values += [v for v in (lo, hi) if v is not None and math.isfinite(v)]
    lo_v, hi_v = min(values), max(values)
    span = (hi_v - lo_v) or 1.0
    lo_v, hi_v = lo_v - span * 0.08, hi_v + span * 0.08

    def x(v: float) -> float:
        return left + (right - left) * (v - lo_v) / (hi_v - lo_v)

    def lab(v: float) -> str:
        return f"{v * 100:+.1f} %" if percent else _fmt(v)

    parts = [
        f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{PAD_T - 4}" y2="{height - 30}" class="zero"/>'
    ]
    for k in range(5):
        v = lo_v + (hi_v - lo_v) * k / 4
        parts.append(
            f'<text x="{x(v):.1f}" y="{height - 12}" class="tick" text-anchor="middle">'
            f"{escape(lab(v))}</text>"
        )
    for i, r in enumerate(rows):
        y = PAD_T + 34 * i + 14
        parts.append(
            f'<text x="{left - 10}" y="{y + 4}" class="label" text-anchor="end">'
            f"{escape(r.label)}</text>"
        )
        if r.value is None:
            parts.append(
                f'<text x="{left}" y="{y + 4}" class="tick">'
                "not computed (fewer than k people)</text>"
            )
            continue
        ordered = sorted(r.intervals, key=lambda t: -t[0])  # widest (highest level) first
        for n, (level, lo, hi) in enumerate(ordered):
            if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
                continue
            thick = "ci-narrow" if n == len(ordered) - 1 and len(ordered) > 1 else "ci-wide"
            tip = f"{r.label}: {level * 100:.0f} % CI {lab(lo)} to {lab(hi)}"
            parts.append(
                f'<line x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{y}" y2="{y}" class="{thick}" '
                f'data-level="{level:g}"><title>{escape(tip)}</title></line>'
            )
        parts.append(
            f'<circle cx="{x(r.value):.1f}" cy="{y}" r="5" class="point">'
            f"<title>{escape(r.label)}: {escape(lab(r.value))}</title></circle>"
        )
    if any(len(r.intervals) > 1 for r in rows):
        parts.append(
            f'<text x="{right}" y="{PAD_T - 4}" class="tick" text-anchor="end">'
            "thick: 90 % CI · thin: 95 % CI</text>"
        )
    return _svg(title, "".join(parts), WIDTH, height)


def heatmap(title: str, cells: Sequence[tuple[int, int, int | None]]) -> str:
    """Weekday x hour grid of counts; ``None`` cells are hatched (suppressed)."""
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    cw, ch, left, top = 26, 22, 44, 22
    width, height = left + 24 * cw + 10, top + 7 * ch + 10
    peak = max((v for _d, _h, v in cells if v), default=1)
    parts = []
    for h in range(0, 24, 2):
        parts.append(
            f'<text x="{left + h * cw + cw / 2}" y="{top - 6}" class="tick" '
            f'text-anchor="middle">{h:02d}</text>'
        )
    for d, name in enumerate(days):
        parts.append(
            f'<text x="{left - 6}" y="{top + d * ch + 15}" class="tick" text-anchor="end">'
            f"{name}</text>"
        )
    for d, h, v in cells:
        xx, yy = left + h * cw, top + d * ch
        if v is None:
            parts.append(
                f'<rect x="{xx}" y="{yy}" width="{cw - 2}" height="{ch - 2}" class="suppressed" '
                f'fill="url(#hatch)"><title>{days[d]} {h:02d}:00 suppressed</title></rect>'
            )
            continue
        level = 0 if v == 0 else 1 + min(4, int(4 * v / peak))
        parts.append(
            f'<rect x="{xx}" y="{yy}" width="{cw - 2}" height="{ch - 2}" class="heat{level}">'
            f"<title>{days[d]} {h:02d}:00 {v}</title></rect>"
        )
    return _svg(title, "".join(parts), width, height)
