"""The dashboard's charts as a reader in New York sees them, on a 1280-px wide page:
times in UTC like the header's clock, tick labels that do not overlap, one time span for
every chart of a page, a drift heatmap that labels every feature worst first and shows
names as text, sparklines of a new model, alert rows that lead to their model.

The axis labels are read from the page: the charts are drawn as SVG, so each label is a
``<text>`` element with a bounding box.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser.conftest import (
    FRESH_MODEL,
    HTML_FEATURE,
    LONG_FEATURE,
    WIDE_FEATURES,
    WIDE_MODEL,
    Seeded,
    _wide_severity,
)

CHART_TIMEOUT_MS = 15_000
LINE_CHARTS = ["traffic", "latency", "errors"]
MIN_GAP_PX = 16

# The x axis labels of a chart: the <text> elements under its plot that read like a time
# ("17:05", "12-07", "12-07 17:30"), with their boxes in page pixels.
AXIS_LABELS = """(el) => {
    const texts = [...el.querySelectorAll("svg text")];
    return texts.map(t => {
        const box = t.getBoundingClientRect();
        return {text: t.textContent, left: box.left, right: box.right, top: box.top,
                bottom: box.bottom, width: box.width, height: box.height};
    }).filter(t => t.width > 0 && t.height > 0);
}"""
TIME_LABEL = re.compile(r"^(\d\d-\d\d )?\d\d:\d\d$|^\d\d-\d\d$")


@pytest.fixture(scope="module")
def new_york(browser: Browser, seeded: Seeded) -> Iterator[BrowserContext]:
    """A context in New York (UTC-5 in winter, UTC-4 in summer), 1280 px wide, logged in
    with the read-only key through the form."""
    context = browser.new_context(
        base_url=seeded.url,
        viewport={"width": 1280, "height": 900},
        timezone_id="America/New_York",
    )
    try:
        page = context.new_page()
        page.goto("/login")
        page.fill("form[action='/login'] input[name=api_key]", seeded.collector.read_key)
        with page.expect_navigation():
            page.click("form[action='/login'] button[type=submit]")
        assert urlsplit(page.url).path == "/", f"the login landed on {page.url}"
        page.close()
        yield context
    finally:
        context.close()


def _open(context: BrowserContext, path: str) -> tuple[Page, list[str]]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    response = page.goto(path)
    assert response is not None and response.ok, f"GET {path}"
    page.wait_for_function(
        "() => [...document.querySelectorAll('div.chart')].every("
        "c => c.dataset.rendered === 'true' || c.dataset.rendered === 'empty')",
        timeout=CHART_TIMEOUT_MS,
    )
    return page, errors


def _labels(page: Page, chart: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.eval_on_selector(
        f"div.chart[data-chart={chart}]", AXIS_LABELS
    )
    return found


def _x_labels(page: Page, chart: str) -> list[dict[str, Any]]:
    return [t for t in _labels(page, chart) if TIME_LABEL.match(t["text"])]


def _minutes(text: str) -> int:
    hours, minutes = text[-5:].split(":")
    return int(hours) * 60 + int(minutes)


def test_chart_axes_show_the_header_utc_clock_in_a_new_york_browser(
    new_york: BrowserContext, artifacts_dir: Path
) -> None:
    page, errors = _open(new_york, "/models/fraud?range=1h")
    page.screenshot(path=str(artifacts_dir / "model-1h-new-york.png"), full_page=True)

    offset = page.evaluate("() => new Date().getTimezoneOffset()")
    assert offset in (240, 300), f"the browser is not in New York: offset {offset}"
    clock = page.inner_text("header .clock time")
    found = re.search(r"(\d\d):(\d\d):\d\d UTC$", clock)
    assert found, clock
    now = int(found.group(1)) * 60 + int(found.group(2))
    for chart in LINE_CHARTS:
        labels = [t["text"] for t in _x_labels(page, chart)]
        clocks = [t for t in labels if ":" in t]
        assert len(clocks) >= 3, f"{chart}: too few time labels: {labels}"
        for text in clocks:
            # every tick of the last hour lies within the hour before the header's clock
            behind = (now - _minutes(text)) % 1440
            assert behind <= 61, f"{chart}: {text} is not UTC ({clock}); labels {labels}"
        names = [t["text"] for t in _labels(page, chart)]
        assert "UTC" in names, f"{chart}: the time axis is not named UTC: {names}"
    # the tooltip of the newest traffic point names its time in UTC
    tip = page.evaluate(
        """() => {
            const el = document.querySelector("div.chart[data-chart=traffic]");
            const chart = echarts.getInstanceByDom(el);
            const data = chart.getOption().series[0].data;
            chart.dispatchAction({type: "showTip", seriesIndex: 0, dataIndex: data.length - 1});
            const tips = [...el.querySelectorAll("div")].filter(d => / UTC/.test(d.textContent));
            return tips.length ? tips[tips.length - 1].textContent : null;
        }"""
    )
    shown = re.search(r"(\d\d:\d\d) UTC", tip or "")
    assert shown, f"no UTC time in the tooltip: {tip}"
    assert (now - _minutes(shown.group(1))) % 1440 <= 61, f"{tip} is not UTC ({clock})"
    assert errors == []
    page.close()


def test_tick_labels_do_not_overlap_at_one_hour_on_a_1280_px_page(
    new_york: BrowserContext,
) -> None:
    page, errors = _open(new_york, "/models/fraud?range=1h")

    for chart in [*LINE_CHARTS, "drift-heatmap"]:
        labels = sorted(_x_labels(page, chart), key=lambda t: t["left"])
        if chart != "drift-heatmap":
            assert len(labels) >= 3, f"{chart}: too few tick labels: {labels}"
        for a, b in pairwise(labels):
            if a["top"] < b["bottom"] and b["top"] < a["bottom"]:  # on one line
                # apart by a readable gap, not merely not touching (ECharts' default put
                # a label every 5 minutes here, 10 px apart, which read as one string)
                gap = b["left"] - a["right"]
                assert gap >= MIN_GAP_PX, f"{chart}: {a['text']} and {b['text']} {gap:.0f} px apart"
    assert errors == []
    page.close()


def test_every_chart_of_a_page_spans_the_selected_range(new_york: BrowserContext) -> None:
    page, errors = _open(new_york, "/models/fraud?range=24h")

    extents: dict[str, list[float]] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("div.chart")]
            .filter(c => c.dataset.rendered === "true")
            .map(c => [c.dataset.chart, echarts.getInstanceByDom(c).getModel()
                .getComponent("xAxis", 0).axis.scale.getExtent()]))"""
    )
    assert set(extents) >= {"traffic", "latency", "errors", "drift-heatmap", "performance"}
    spans = {tuple(extent) for extent in extents.values()}
    assert len(spans) == 1, f"the charts disagree on their x range: {extents}"
    ((start, end),) = spans
    assert end - start == 24 * 3600 * 1000
    assert errors == []
    page.close()


def test_drift_heatmap_labels_every_feature_worst_first(
    new_york: BrowserContext, artifacts_dir: Path
) -> None:
    page, errors = _open(new_york, f"/models/{WIDE_MODEL}?range=24h")
    page.screenshot(path=str(artifacts_dir / "drift-heatmap-many-features.png"), full_page=True)

    grid_left = page.eval_on_selector(
        "div.chart[data-chart=drift-heatmap]",
        "(el) => el.getBoundingClientRect().left + 166",
    )
    rows = sorted(
        (t for t in _labels(page, "drift-heatmap") if t["right"] <= grid_left),
        key=lambda t: t["top"],
    )
    order = [HTML_FEATURE, LONG_FEATURE, *WIDE_FEATURES[:24]]
    expected = sorted(order, key=lambda name: -_wide_severity(order.index(name)))
    shown = [t["text"] for t in rows]
    assert len(shown) == len(expected), f"not every feature is labelled: {shown}"
    for text, name in zip(shown, expected, strict=True):
        # a name too long for the label's room is cut short (the tooltip has it whole)
        assert text == name or (text.endswith("...") and name.startswith(text[:-3])), text
    assert LONG_FEATURE not in shown, "the long name is not truncated"
    for a, b in pairwise(rows):
        assert a["bottom"] <= b["top"] + 1, f"{a['text']} overlaps {b['text']}"
    # the unit and the fixed scale are on the chart
    texts = [t["text"] for t in _labels(page, "drift-heatmap")]
    assert "drift severity: 1 = warning threshold, 2 = critical" in texts, texts
    assert page.evaluate("() => window.__injected") is None
    assert errors == []
    page.close()


def test_drift_heatmap_tooltip_shows_the_name_as_text_with_its_method(
    new_york: BrowserContext,
) -> None:
    page, errors = _open(new_york, f"/models/{WIDE_MODEL}?range=24h")

    # the worst row (0) is the feature whose name is HTML: show the tooltip of its cell
    tip = page.evaluate(
        """() => {
            const el = document.querySelector("div.chart[data-chart=drift-heatmap]");
            const chart = echarts.getInstanceByDom(el);
            const cells = chart.getOption().series[0].data;
            const index = cells.findIndex(c => c[1] === 0);
            chart.dispatchAction({type: "showTip", seriesIndex: 0, dataIndex: index});
            const tips = [...el.querySelectorAll("div")]
                .filter(d => d.textContent.includes("severity"));
            const box = tips[tips.length - 1];
            return box ? {text: box.textContent, html: box.innerHTML,
                          images: box.querySelectorAll("img").length} : null;
        }"""
    )
    assert tip is not None, "no tooltip"
    assert HTML_FEATURE in tip["text"] and "(wasserstein)" in tip["text"], tip
    assert tip["images"] == 0 and "<img" not in tip["html"], tip
    assert "drift severity 3" in tip["text"], tip
    assert page.evaluate("() => window.__injected") is None
    assert errors == []
    page.close()


def test_a_new_model_has_a_drawn_sparkline_and_traffic_says_its_window(
    new_york: BrowserContext,
) -> None:
    page, errors = _open(new_york, "/")

    spark = page.locator(f"table#models tr[data-model={FRESH_MODEL}] td.spark svg")
    assert spark.count() == 1
    marks = spark.locator("circle, path")
    assert marks.count() >= 1
    box = marks.first.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0
    assert "Predictions/s (last 5 min)" in page.inner_text("table#models thead")
    # recs' last prediction came ten minutes before the seed ended: 0 now, not its average
    assert page.inner_text("table#models tr[data-model=recs] td.traffic") == "0"
    page.goto("/models/fraud")
    assert "predictions/s, last 5 min" in page.inner_text("ul.facts li.rate")
    assert errors == []
    page.close()


def test_an_alert_row_links_to_its_model(new_york: BrowserContext, seeded: Seeded) -> None:
    page, errors = _open(new_york, "/alerts")

    row = page.locator(f"tr[data-alert='{seeded.alerts['latency-high']}']")
    link = row.locator("a.model")
    assert link.get_attribute("href") == "/models/fraud"
    link.click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/models/fraud")
    assert errors == []
    page.close()


def test_a_drift_alert_names_the_drifted_features(new_york: BrowserContext, seeded: Seeded) -> None:
    page, errors = _open(new_york, "/alerts")

    row = page.locator(f"tr[data-alert='{seeded.alerts['drift-share']}']")
    # the seed's `amount` drifts to a critical severity; `country`, `merchant_age` do not
    assert row.locator(".hint").inner_text() == "fraud drifted in amount"
    assert errors == []
    page.close()
