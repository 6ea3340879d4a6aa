"""Inline SVG charts, drawn here so the report is one file that needs no script and no network.

Per workload: a bar per stack and guest for the geometric mean (the figure the ratio divides), a
whisker from the lowest to the highest repeat, and every repeat as a dot, so the spread is seen and
not only a summary of it; an outlier repeat (stats.OUTLIER_RULE) is a red ring. Overview:
each KVM/Xen ratio with its 95% interval on a log axis (where 2x and 0.5x are equally far
from 1). Every text goes through escape(): guest and workload names come from input files.
"""

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from hvlab.report import fmt
from hvlab.report.compare import Comparison, Side
from hvlab.report.model import STACK_LABELS
from hvlab.report.stats import OUTLIER_FACTOR

COLOURS = {"kvm": "#d9480f", "xen": "#1971c2"}
DARK = {"kvm": "#a61e04", "xen": "#0b4f8a"}
NEUTRAL = "#868e96"
FAILED = "#c92a2a"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _nice_top(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above value, for round axis ticks."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value)


def workload_chart(items: Sequence[Comparison]) -> Markup:
    """One workload: for each guest, the KVM bar beside the Xen bar (items share workload and unit)."""
    left, right, top, bottom = 72, 16, 36, 62
    plot_w, plot_h = max(440, 200 * len(items)), 200
    width, height = left + plot_w + right, top + plot_h + bottom
    highest = max((v for c in items for side in c.sides for v in side.values), default=0.0)
    y_top = _nice_top(highest * 1.08)

    def y(value: float) -> float:
        return top + plot_h * (1 - value / y_top)

    unit = items[0].unit or ""
    title = f"{items[0].workload}: {items[0].metric or 'no metric'}"
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" {FONT}>',
             f"<title>{escape(title)} per stack ({escape(unit)})</title>"]
    for i in range(6):
        tick = y_top * i / 5
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                     f'stroke="#dee2e6"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="#495057">'
                     f"{_tick(tick)}</text>")
    parts.append(f'<text transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" '
                 f'fill="#495057">{escape(unit)}</text>')
    parts.append(_legend(left))

    group_w = plot_w / len(items)
    bar_w = min(64.0, group_w * 0.32)
    for g, item in enumerate(items):
        centre = left + group_w * (g + 0.5)
        for s, side in enumerate(item.sides):
            x = centre + (s - 0.5) * (bar_w + 8)
            parts.extend(_bar(side, item.guest, x, bar_w, y, top + plot_h))
        parts.append(f'<text x="{centre:.1f}" y="{height - 8}" text-anchor="middle" font-weight="600">'
                     f"{escape(item.guest)}</text>")
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#495057"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _tick(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


def _legend(x: float) -> str:
    out = []
    for i, stack in enumerate(("kvm", "xen")):
        out.append(f'<rect x="{x + i * 50}" y="10" width="12" height="12" fill="{COLOURS[stack]}"/>'
                   f'<text x="{x + i * 50 + 16}" y="20">{STACK_LABELS[stack]}</text>')
    out.append(f'<circle cx="{x + 108}" cy="16" r="3.5" fill="#fff" stroke="#212529" stroke-width="1.5"/>'
               f'<text x="{x + 116}" y="20">repeat</text>'
               f'<line x1="{x + 170}" x2="{x + 170}" y1="9" y2="23" stroke="#212529" stroke-width="1.5"/>'
               f'<text x="{x + 176}" y="20">min-max</text>'
               f'<circle cx="{x + 240}" cy="16" r="5" fill="#fff" stroke="{FAILED}" stroke-width="2.5"/>'
               f'<text x="{x + 250}" y="20">outlier</text>'
               f'<text x="{x + 304}" y="20" fill="#495057">bar: geometric mean</text>')
    return "".join(out)


def _bar(side: Side, guest: str, x: float, bar_w: float, y: Callable[[float], float], base: float) -> list[str]:
    label = STACK_LABELS[side.stack]
    values, failed, summary = side.values, len(side.failed), side.summary
    out = [f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle" fill="{DARK[side.stack]}">{label}</text>']
    if failed:
        out.append(f'<text x="{x:.1f}" y="{base + 30}" text-anchor="middle" fill="{FAILED}" class="failed-mark">'
                   f"✕ {failed} failed</text>")
    if summary is None or summary.geomean is None:
        out.append(f'<text x="{x:.1f}" y="{base - 8}" text-anchor="middle" fill="{NEUTRAL}">no data</text>')
        return out
    centre = summary.geomean
    out.append(f'<rect x="{x - bar_w / 2:.1f}" y="{y(centre):.1f}" width="{bar_w:.1f}" '
               f'height="{base - y(centre):.1f}" fill="{COLOURS[side.stack]}" fill-opacity="0.85" '
               f'class="bar {side.stack}"><title>{label} {escape(guest)}: geometric mean '
               f"{escape(fmt.number(centre))} over {len(values)} repeat(s)</title></rect>")
    out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y(summary.minimum):.1f}" y2="{y(summary.maximum):.1f}" '
               f'stroke="#212529" stroke-width="1.5"/>')
    for cap in (summary.minimum, summary.maximum):
        out.append(f'<line x1="{x - 6:.1f}" x2="{x + 6:.1f}" y1="{y(cap):.1f}" y2="{y(cap):.1f}" stroke="#212529" '
                   f'stroke-width="1.5"/>')
    spread = bar_w * 0.6 / max(len(values) - 1, 1)
    for i, (run, value) in enumerate(zip(side.measured, values, strict=True)):
        dot_x = x + (i - (len(values) - 1) / 2) * spread
        what = f"{label} {guest}: {fmt.number(value)} in repeat {run.repeat}"
        if i in summary.outliers:
            out.append(f'<circle cx="{dot_x:.1f}" cy="{y(value):.1f}" r="5" fill="#fff" stroke="{FAILED}" '
                       f'stroke-width="2.5" class="repeat outlier"><title>{escape(what)}, an outlier: more than '
                       f"{OUTLIER_FACTOR:g} times off the median {escape(fmt.number(summary.median))}"
                       "</title></circle>")
        else:
            out.append(f'<circle cx="{dot_x:.1f}" cy="{y(value):.1f}" r="3.5" fill="#fff" stroke="{DARK[side.stack]}" '
                       f'stroke-width="1.5" class="repeat"><title>{escape(what)}</title></circle>')
    out.append(f'<text x="{x:.1f}" y="{y(summary.maximum) - 7:.1f}" text-anchor="middle" font-weight="600">'
               f"{escape(fmt.number(centre))}</text>")
    return out


def ratio_chart(items: Sequence[Comparison]) -> Markup:
    """Every KVM/Xen ratio with its interval, one row per workload and guest, on a log axis."""
    label_w, width, row_h, top = 230, 640, 26, 30
    height = top + row_h * len(items) + 34
    bounds = [v for c in items for v in (c.ratio.estimate, c.ratio.low, c.ratio.high) if v]
    lo = min([*bounds, 1.0]) / 1.15
    hi = max([*bounds, 1.0]) * 1.15
    x0, x1 = label_w + 10, width - 20

    def x(value: float) -> float:
        return x0 + (x1 - x0) * (math.log(value) - math.log(lo)) / (math.log(hi) - math.log(lo))

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="KVM/Xen ratios" {FONT}>',
             "<title>KVM/Xen ratio per workload with its 95% interval</title>"]
    bottom = top + row_h * len(items)
    for tick in _log_ticks(lo, hi, x):
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top - 6}" y2="{bottom}" '
                     f'stroke="{"#495057" if tick == 1 else "#dee2e6"}"/>'
                     f'<text x="{x(tick):.1f}" y="{bottom + 16}" text-anchor="middle" fill="#495057">'
                     f"{tick:g}</text>")
    parts.append(f'<text x="{x0}" y="{top - 12}" fill="#495057">← KVM figure lower</text>'
                 f'<text x="{x1}" y="{top - 12}" text-anchor="end" fill="#495057">KVM figure higher →</text>')
    for i, item in enumerate(items):
        cy = top + row_h * (i + 0.5)
        direction = "" if item.higher_is_better is not False else " (lower is better)"
        parts.append(f'<text x="{label_w}" y="{cy + 4:.1f}" text-anchor="end">'
                     f"{escape(item.workload)} · {escape(item.guest)}{direction}</text>")
        estimate, low, high = item.ratio.estimate, item.ratio.low, item.ratio.high
        if estimate is None:
            parts.append(f'<text x="{x0}" y="{cy + 4:.1f}" fill="{NEUTRAL}">no ratio</text>')
            continue
        colour = COLOURS[item.better] if item.better else NEUTRAL
        if low is not None and high is not None:
            parts.append(f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{cy:.1f}" y2="{cy:.1f}" '
                         f'stroke="{colour}" stroke-width="3"/>')
        fill = colour if low is not None else "#fff"
        parts.append(f'<circle cx="{x(estimate):.1f}" cy="{cy:.1f}" r="5" fill="{fill}" stroke="{colour}" '
                     f'stroke-width="2"><title>{escape(item.workload)} · {escape(item.guest)}: '
                     f"{fmt.ratio(estimate)} ({escape(item.reading)})</title></circle>")
    parts.append("</svg>")
    return Markup("".join(parts))


def _log_ticks(lo: float, hi: float, x: Callable[[float], float]) -> list[float]:
    """Round ratios inside the axis, at least 40 px apart, always including 1."""
    candidates = sorted({m * 10.0**e for e in range(-3, 4) for m in (1, 2, 5)} | {0.8, 0.9, 1.1, 1.25, 1.5})
    kept = [1.0]
    for tick in sorted((t for t in candidates if lo <= t <= hi), key=lambda t: abs(math.log(t))):
        if all(abs(x(tick) - x(k)) >= 40 for k in kept):
            kept.append(tick)
    return sorted(kept)
