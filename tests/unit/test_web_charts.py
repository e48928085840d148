"""The server-drawn SVG charts (api/web/charts.py): well-formed SVG, named images, heights in
proportion to the values, every label escaped, and a chart of nothing says so."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from rightsflow.api.web.charts import (
    MAX_LABELS,
    PLOT_HEIGHT,
    TOP,
    WIDTH,
    Proportion,
    bar_chart,
    label_indices,
    line_chart,
    nice_ticks,
    proportion_bars,
    stacked_bars,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    root = ET.fromstring(markup)  # noqa: S314 (our own output, the thing under test)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if "bar" in (r.get("class") or "").split()]


def test_bar_heights_are_proportional_to_the_values() -> None:
    root = parse(bar_chart([("a", 10), ("b", 5), ("c", 0)], title="Requests"))
    heights = [float(r.get("height", "nan")) for r in bars(root)]
    assert heights == [PLOT_HEIGHT, PLOT_HEIGHT / 2, 0]
    # The bars stand on the same baseline.
    bottoms = {float(r.get("y", "nan")) + float(r.get("height", "nan")) for r in bars(root)}
    assert len(bottoms) == 1


def test_a_chart_is_a_named_image() -> None:
    root = parse(bar_chart([("a", 1)], title="Requests by week"))
    assert root.get("aria-label") == "Requests by week"
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text == "Requests by week"


@pytest.mark.parametrize(
    "draw",
    [
        lambda label: bar_chart([(label, 1)], title=label),
        lambda label: stacked_bars(["w1"], {label: [2]}, title=label),
        lambda label: line_chart([(label, 1.0), ("b", 2.0)], title=label),
        lambda label: proportion_bars([Proportion(label, 0.5, 0.4, 0.6)], title=label),
    ],
)
def test_labels_and_titles_are_escaped(draw: object) -> None:
    hostile = '<script>alert("x")</script> & "quotes"'
    markup = str(draw(hostile))  # type: ignore[operator]
    assert "<script>" not in markup
    root = parse(markup)  # still well-formed XML
    texts = [el.text or "" for el in root.iter()]
    assert any(hostile in text for text in texts)
    assert root.get("aria-label") == hostile


@pytest.mark.parametrize(
    "markup",
    [
        bar_chart([], title="t"),
        bar_chart([("a", 0)], title="t"),
        stacked_bars([], {}, title="t"),
        stacked_bars(["w1"], {"open": [0]}, title="t"),
        line_chart([("a", None)], title="t"),
        proportion_bars([Proportion("a", None)], title="t"),
    ],
)
def test_empty_data_draws_a_chart_that_says_so(markup: str) -> None:
    root = parse(str(markup))
    assert not bars(root)
    assert "No data" in "".join(el.text or "" for el in root.iter())


def test_stacked_bars_add_up_to_each_buckets_total() -> None:
    root = parse(
        str(stacked_bars(["w1", "w2"], {"open": [1, 2], "done": [3, 0]}, title="By status"))
    )
    rects = bars(root)
    # w1 has 4 (the tallest bucket: the full height), w2 has 2 (half of it).
    w1 = sum(
        float(r.get("height", "0"))
        for r in rects
        if (r.findtext(f"{SVG}title") or "").startswith("w1")
    )
    w2 = sum(
        float(r.get("height", "0"))
        for r in rects
        if (r.findtext(f"{SVG}title") or "").startswith("w2")
    )
    assert w1 == pytest.approx(PLOT_HEIGHT)
    assert w2 == pytest.approx(PLOT_HEIGHT / 2)
    legend = [el.text for el in root.iter(f"{SVG}text") if el.get("class") == "chart-legend"]
    assert legend == ["open", "done"]


def test_proportions_draw_rates_on_a_fixed_scale_with_their_intervals() -> None:
    root = parse(
        str(
            proportion_bars(
                [Proportion("control", 0.25, 0.2, 0.3), Proportion("bold", 0.5, 0.45, 0.55)],
                title="Consent rate",
            )
        )
    )
    heights = [float(r.get("height", "nan")) for r in bars(root)]
    assert heights == [PLOT_HEIGHT * 0.25, PLOT_HEIGHT * 0.5]
    errors = [p for p in root.iter(f"{SVG}path") if p.get("class") == "error-bar"]
    assert len(errors) == 2


def test_a_line_breaks_where_a_value_is_missing() -> None:
    root = parse(
        str(line_chart([("a", 1.0), ("b", 2.0), ("c", None), ("d", 1.0), ("e", 0.5)], title="t"))
    )
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 2
    assert len(list(root.iter(f"{SVG}circle"))) == 4


def texts_of(root: ET.Element, css: str) -> list[ET.Element]:
    return [el for el in root.iter(f"{SVG}text") if el.get("class") == css]


def days(count: int, first: date = date(2026, 10, 27)) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range(count)]


@pytest.mark.parametrize("count", [1, 2, 7, 8, 9, 30, 31, 90, 365])
def test_at_most_the_cap_of_labels_in_order_with_the_first_and_the_last(count: int) -> None:
    chosen = label_indices(count)
    assert 0 < len(chosen) <= MAX_LABELS
    assert chosen == sorted(set(chosen))
    assert chosen[0] == 0
    assert chosen[-1] == count - 1
    if count > MAX_LABELS:  # evenly spaced: no gap more than twice another
        gaps = [b - a for a, b in itertools.pairwise(chosen)]
        assert max(gaps) <= 2 * min(gaps)


@pytest.mark.parametrize(
    "draw",
    [
        lambda labels: stacked_bars(labels, {"open": [1] * len(labels)}, title="t"),
        lambda labels: line_chart([(label, 1.0) for label in labels], title="t"),
    ],
)
def test_a_month_of_days_draws_few_short_labels_left_to_right(draw: object) -> None:
    root = parse(str(draw(days(30))))  # type: ignore[operator]
    labels = texts_of(root, "chart-label")
    assert labels[0].text == "Oct 27"
    assert labels[-1].text == "Nov 25"
    assert len(labels) <= MAX_LABELS
    xs = [float(el.get("x", "nan")) for el in labels]
    assert xs == sorted(xs)
    # Far enough apart for a short date (about 6 characters of 12 px type).
    assert min(b - a for a, b in itertools.pairwise(xs)) > 60


def test_dates_spanning_a_new_year_say_which_year() -> None:
    root = parse(str(line_chart([(d, 1.0) for d in days(40, date(2025, 12, 10))], title="t")))
    shown = [el.text or "" for el in texts_of(root, "chart-label")]
    assert shown[0] == "Dec 10 2025"
    assert any(text.startswith("Jan") and text.endswith("2026") for text in shown)


@pytest.mark.parametrize("top", [0.07, 0.3, 1, 2, 3, 4, 5, 7, 9, 10, 11, 37, 99, 101, 1234])
def test_ticks_are_round_start_at_zero_and_cover_the_largest_value(top: float) -> None:
    for whole in (False, True):
        ticks = nice_ticks(top, whole=whole)
        assert 3 <= len(ticks) <= 5
        assert ticks[0] == 0
        assert ticks[-1] >= top
        step = ticks[1]
        assert all(b - a == pytest.approx(step) for a, b in itertools.pairwise(ticks))
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 6) in (1, 2, 2.5, 5)
        if whole:
            assert all(tick == int(tick) for tick in ticks)
        # No empty band of gridlines above the data (except the minimum of two intervals).
        assert ticks[-2] < top or len(ticks) == 3


def test_count_charts_have_a_y_axis_with_gridlines() -> None:
    root = parse(str(stacked_bars(days(30), {"open": [0] * 29 + [4], "done": [0] * 30}, title="t")))
    values = [el.text for el in texts_of(root, "chart-tick")]
    assert values == ["0", "1", "2", "3", "4"]
    grid = [el for el in root.iter(f"{SVG}line") if el.get("class") == "chart-grid"]
    assert len(grid) == 4
    assert min(float(el.get("y1", "nan")) for el in grid) == TOP  # the top tick is the top
    assert root.get("viewBox") == f"0 0 {WIDTH} {root.get('height')}"


def test_proportions_have_a_percent_axis() -> None:
    root = parse(str(proportion_bars([Proportion("a", 0.5)], title="t")))
    values = [el.text for el in texts_of(root, "chart-tick")]
    assert values == ["0 %", "25 %", "50 %", "75 %", "100 %"]
