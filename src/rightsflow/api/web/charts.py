"""Charts drawn on the server as SVG: bars, stacked bars over time, a line, and proportions
with their intervals. Pure functions of plain numbers and labels, returning markup.

Every value and label is escaped (labels can be names an operator typed). Each chart is an
image with a name (`role="img"`, `aria-label` and `<title>`); pages put a table with the same
numbers next to it, so nothing depends on seeing the picture or telling colours apart. Colours
come from classes (static/charts.css: series-0 ... series-7), never inline styles (CSP).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

WIDTH = 900  # viewBox width; charts.css scales the drawing down to the page
PLOT_HEIGHT = 200
TOP = 24  # room for the highest value's label
AXIS = 40  # room for the category labels under the plot
LEFT = 56  # the plot's left edge: room for the y-axis tick values
RIGHT = 32  # room for the last category label, centred on its slot
SERIES_CLASSES = 8  # series-0 ... series-7 in charts.css; further series reuse them
MAX_LABELS = 8  # category labels drawn under a plot at most (the table has them all)
MAX_TICKS = 5  # y-axis ticks at most, 0 included
NICE_STEPS = (1.0, 2.0, 2.5, 5.0)  # tick steps, times a power of ten


@dataclass(frozen=True)
class Proportion:
    """A rate (0 to 1) with its interval, e.g. a variant's consent rate and 95 % Wilson bounds."""

    label: str
    rate: float | None
    low: float | None = None
    high: float | None = None


def _num(value: float) -> str:
    """Coordinates with at most two decimals (short, stable output)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _open(title: str, height: int, css: str) -> Markup:
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" role="img" '
        'viewBox="0 0 {w} {h}" width="{w}" height="{h}" aria-label="{t}">'
        "<title>{t}</title>"
    ).format(css=css, w=WIDTH, h=height, t=title)


def _close() -> Markup:
    return Markup("</svg>")


def _empty(title: str, css: str) -> Markup:
    return (
        _open(title, 60, css)
        + Markup('<text class="chart-empty" x="{x}" y="34">No data</text>').format(x=LEFT)
        + _close()
    )


def _text(x: float, y: float, text: object, css: str, anchor: str = "middle") -> Markup:
    return Markup('<text class="{c}" x="{x}" y="{y}" text-anchor="{a}">{t}</text>').format(
        c=css, x=_num(x), y=_num(y), a=anchor, t=text
    )


def _rect(x: float, y: float, w: float, h: float, *, css: str, tip: str) -> Markup:
    return Markup(
        '<rect class="{c}" x="{x}" y="{y}" width="{w}" height="{h}"><title>{t}</title></rect>'
    ).format(c=css, x=_num(x), y=_num(y), w=_num(w), h=_num(h), t=tip)


def _hline(y: float, css: str) -> Markup:
    return Markup('<line class="{c}" x1="{a}" y1="{y}" x2="{b}" y2="{y}"/>').format(
        c=css, a=LEFT, b=WIDTH - RIGHT, y=_num(y)
    )


def _baseline() -> Markup:
    return _hline(TOP + PLOT_HEIGHT, "chart-axis")


def _slot(count: int) -> float:
    return (WIDTH - LEFT - RIGHT) / count


def nice_ticks(top: float, *, whole: bool = False) -> list[float]:
    """Round y-axis ticks from 0 up to at least `top`: 3 to MAX_TICKS of them, a round step
    apart (1, 2, 2.5 or 5 times a power of ten; whole numbers only for counts)."""
    if top <= 0:
        return [0.0, 1.0, 2.0] if whole else [0.0, 0.5, 1.0]
    power = 10.0 ** math.floor(math.log10(top / (MAX_TICKS - 1)))
    if whole:
        power = max(power, 1.0)  # counts step by whole numbers
    steps = [base * power * scale for scale in (1, 10) for base in NICE_STEPS]
    for step in steps:
        if whole and (step < 1 or step != int(step)):
            continue
        intervals = max(2, math.ceil(top / step - 1e-9))
        if intervals < MAX_TICKS:
            return [round(step * i, 10) for i in range(intervals + 1)]
    raise AssertionError("unreachable: the largest step covers top in two intervals")


def _y_axis(ticks: Sequence[float], show: Callable[[float], str]) -> Markup:
    """Gridlines with their values left of the plot; `ticks` run from 0 to the scale's top."""
    parts = Markup()
    for tick in ticks:
        y = TOP + PLOT_HEIGHT * (1 - tick / ticks[-1])
        if tick > 0:
            parts += _hline(y, "chart-grid")
        parts += _text(LEFT - 8, y + 4, show(tick), "chart-tick", anchor="end")
    return parts


def _count(value: float) -> str:
    return f"{value:g}"


def label_indices(count: int, cap: int = MAX_LABELS) -> list[int]:
    """Which of `count` category labels to draw: all when they fit, else `cap` of them evenly
    spaced, always the first and the last."""
    if count <= cap:
        return list(range(count))
    return sorted({round(i * (count - 1) / (cap - 1)) for i in range(cap)})


def _short(label: str, year: bool) -> str:
    """A day (or a week's first day) as "Nov 3"; other labels as they are."""
    try:
        day = date.fromisoformat(label)
    except ValueError:
        return label
    return f"{day:%b} {day.day}" + (f" {day.year}" if year else "")


def _labels(labels: Sequence[str]) -> Markup:
    """Category labels under the plot, thinned so they never overlap (the table has them
    all). Dates are written short; with the year where it changes, if the range spans two."""
    slot = _slot(len(labels))
    years = {label[:4] for label in labels}
    parts, last_year = Markup(), ""
    for i in label_indices(len(labels)):
        label = labels[i]
        show_year = len(years) > 1 and label[:4] != last_year
        last_year = label[:4]
        x = LEFT + slot * (i + 0.5)
        parts += _text(x, TOP + PLOT_HEIGHT + 16, _short(label, show_year), "chart-label")
    return parts


def bar_chart(items: Sequence[tuple[str, float]], *, title: str) -> Markup:
    """One bar per (label, value); heights proportional to the values (0 at the baseline)."""
    if not items or max(v for _, v in items) <= 0:
        return _empty(title, "bar-chart")
    ticks = nice_ticks(max(v for _, v in items))
    top = ticks[-1]
    slot = _slot(len(items))
    parts = _open(title, TOP + PLOT_HEIGHT + AXIS, "bar-chart") + _y_axis(ticks, _count)
    for i, (label, value) in enumerate(items):
        height = PLOT_HEIGHT * max(value, 0) / top
        x = LEFT + slot * i + slot * 0.15
        y = TOP + PLOT_HEIGHT - height
        parts += _rect(x, y, slot * 0.7, height, css="bar series-0", tip=f"{label}: {value:g}")
        parts += _text(x + slot * 0.35, y - 4, f"{value:g}", "chart-value")
    return parts + _baseline() + _labels([label for label, _ in items]) + _close()


def _legend(names: Sequence[str], y: float) -> Markup:
    parts = Markup()
    x = float(LEFT)
    for i, name in enumerate(names):
        parts += _rect(x, y - 10, 12, 12, css=f"series-{i % SERIES_CLASSES}", tip=name)
        parts += _text(x + 16, y, name, "chart-legend", anchor="start")
        x += 24 + 7.5 * len(name)
    return parts


def stacked_bars(
    buckets: Sequence[str], series: Mapping[str, Sequence[int]], *, title: str
) -> Markup:
    """One bar per bucket (e.g. a week), split by series (e.g. status), with a legend.

    Each series has one value per bucket, in the buckets' order."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(buckets))]
    if not buckets or max(totals) <= 0:
        return _empty(title, "stacked-bars")
    ticks = nice_ticks(max(totals), whole=True)
    top = ticks[-1]
    slot = _slot(len(buckets))
    legend_y = TOP + PLOT_HEIGHT + AXIS
    parts = _open(title, legend_y + 16, "stacked-bars") + _y_axis(ticks, _count)
    for i, bucket in enumerate(buckets):
        y = float(TOP + PLOT_HEIGHT)
        for n, (name, values) in enumerate(series.items()):
            height = PLOT_HEIGHT * values[i] / top
            if height <= 0:
                continue
            y -= height
            css = f"bar series-{n % SERIES_CLASSES}"
            tip = f"{bucket}, {name}: {values[i]}"
            parts += _rect(LEFT + slot * (i + 0.1), y, slot * 0.8, height, css=css, tip=tip)
    parts += _baseline() + _labels(buckets) + _legend(list(series), legend_y)
    return parts + _close()


def line_chart(
    points: Sequence[tuple[str, float | None]], *, title: str, maximum: float | None = None
) -> Markup:
    """A line through (label, value) points; a None value breaks the line (no data there).
    `maximum` fixes the top of the scale (1 for rates); otherwise the largest value."""
    values = [v for _, v in points if v is not None]
    highest = maximum if maximum is not None else max(values, default=0)
    if not values or highest <= 0:
        return _empty(title, "line-chart")
    whole = maximum is None and all(v == int(v) for v in values)
    ticks = nice_ticks(highest, whole=whole)
    top = ticks[-1]
    slot = _slot(len(points))
    parts = _open(title, TOP + PLOT_HEIGHT + AXIS, "line-chart") + _y_axis(ticks, _count)
    runs: list[list[str]] = [[]]
    for i, (label, value) in enumerate(points):
        if value is None:
            runs.append([])
            continue
        x, y = LEFT + slot * (i + 0.5), TOP + PLOT_HEIGHT * (1 - min(value, top) / top)
        runs[-1].append(f"{_num(x)},{_num(y)}")
        parts += Markup(
            '<circle class="point series-0" cx="{x}" cy="{y}" r="3"><title>{t}</title></circle>'
        ).format(x=_num(x), y=_num(y), t=f"{label}: {value:g}")
    for run in runs:
        if len(run) > 1:
            parts += Markup('<polyline class="line series-0" points="{p}"/>').format(
                p=" ".join(run)
            )
    return parts + _baseline() + _labels([label for label, _ in points]) + _close()


def _percent(value: float) -> str:
    return f"{value * 100:.1f} %"


def proportion_bars(items: Sequence[Proportion], *, title: str) -> Markup:
    """Rates on a 0-100 % scale, one bar per item, with its interval drawn as an error bar."""
    if not items or all(item.rate is None for item in items):
        return _empty(title, "proportion-bars")
    slot = _slot(len(items))
    bars, overlays = Markup(), Markup()  # error bars and values are drawn over every bar
    for i, item in enumerate(items):
        if item.rate is None:
            continue
        middle = LEFT + slot * (i + 0.5)
        height = PLOT_HEIGHT * min(max(item.rate, 0.0), 1.0)
        y = TOP + PLOT_HEIGHT - height
        tip = f"{item.label}: {_percent(item.rate)}"
        if item.low is not None and item.high is not None:
            tip += f" ({_percent(item.low)} to {_percent(item.high)})"
            overlays += _error_bar(middle, item.low, item.high)
        bars += _rect(middle - slot * 0.3, y, slot * 0.6, height, css="bar series-0", tip=tip)
        overlays += _text(middle + 10, y - 4, _percent(item.rate), "chart-value", "start")
    head = _open(title, TOP + PLOT_HEIGHT + AXIS, "proportion-bars")
    head += _y_axis([0.0, 0.25, 0.5, 0.75, 1.0], lambda rate: f"{rate * 100:g} %")
    labels = _labels([item.label for item in items])
    return head + bars + overlays + _baseline() + labels + _close()


def _error_bar(x: float, low: float, high: float) -> Markup:
    y_low = TOP + PLOT_HEIGHT * (1 - low)
    y_high = TOP + PLOT_HEIGHT * (1 - high)
    return Markup('<path class="error-bar" d="M{a} {yh}H{b}M{x} {yh}V{yl}M{a} {yl}H{b}"/>').format(
        a=_num(x - 6), b=_num(x + 6), x=_num(x), yh=_num(y_high), yl=_num(y_low)
    )
