"""The server-drawn SVG charts (api/web/charts.py): well-formed SVG, named images, heights in
proportion to the values, every label escaped, and a chart of nothing says so."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from rightsflow.api.web.charts import (
    PLOT_HEIGHT,
    Proportion,
    bar_chart,
    line_chart,
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
