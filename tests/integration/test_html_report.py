"""The HTML drift report, parsed: histogram y-axes, gauges on one severity scale, and a
headline that counts critical and warning columns."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import mlpulse
from mlpulse.adapters.export.html_report import severity
from mlpulse.core.drift.check import Status, drift_status
from mlpulse.core.drift.methods import Thresholds

_VOID = {"meta", "br", "img", "input", "link", "hr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def iter(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        found = [
            n
            for child in self.children
            for n in [child, *child.iter()]
            if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)
        ]
        return list({id(n): n for n in found}.values())

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    @property
    def all_text(self) -> str:
        return self.text + "".join(c.all_text for c in self.children)


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(Node("#text", {}, text=data))


def _parse(page: str) -> Node:
    tree = _Tree()
    tree.feed(page)
    tree.close()
    assert tree.stack == [tree.root], "unclosed elements"
    return tree.root


def _frames(n: int = 4000, seed: int = 1) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """20 columns; 4 shift far (critical), 16 do not: under the 25% dataset share."""
    rng = np.random.default_rng(seed)
    reference = {f"x{i:02d}": rng.normal(0, 1, n) for i in range(20)}
    current = {f"x{i:02d}": rng.normal(1.0 if i < 4 else 0, 1, n) for i in range(20)}
    reference["plan"] = rng.choice(["free", "pro", "team"], n)
    current["plan"] = rng.choice(["free", "pro", "team"], n)
    return reference, current


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Node, dict[str, object]]:
    reference, current = _frames()
    result = mlpulse.report(reference, current)
    path = result.save_html(tmp_path_factory.mktemp("html") / "r.html")
    return _parse(Path(path).read_text()), result.to_dict()


def test_html_report_headline_counts_critical_columns_and_is_not_green(
    page: tuple[Node, dict[str, object]],
) -> None:
    tree, data = page
    dataset = data["dataset"]
    assert isinstance(dataset, dict) and dataset["status"] == "ok"  # 4 of 21 drifted: 19%
    (headline,) = tree.iter("div", "verdict")
    assert "critical" in headline.classes and "ok" not in headline.classes
    assert re.search(r"4 critical, 0 warning\s+of 21 columns", headline.all_text)
    assert "Dataset drift: ok" in headline.all_text


def test_html_report_histograms_have_a_labelled_y_axis_in_share_of_rows(
    page: tuple[Node, dict[str, object]],
) -> None:
    tree, _ = page
    histograms = tree.iter("svg", "histogram")
    assert len(histograms) == 21
    for svg in histograms:
        (title,) = svg.iter("text", "axis-title")
        assert title.all_text == "share of rows"
        ticks = [float(t.all_text.rstrip("%")) / 100 for t in svg.iter("text", "y-tick")]
        assert ticks[0] == 0 and ticks == sorted(ticks) and 3 <= len(ticks) <= 6
        shares = [float(r.all_text.rsplit(": ", 1)[1].rstrip("%")) / 100 for r in svg.iter("rect")]
        assert max(shares) <= ticks[-1] + 1e-9  # the axis reaches the tallest bar
        assert max(shares) > ticks[-1] / 3  # and is not far above it


def test_html_report_gauges_share_one_scale_and_label_value_marks_method_and_unit(
    page: tuple[Node, dict[str, object]],
) -> None:
    tree, data = page
    columns = data["columns"]
    assert isinstance(columns, dict)
    gauges = tree.iter("svg", "gauge")
    assert len(gauges) == 21
    positions: set[tuple[str, ...]] = set()
    for gauge in gauges:
        (title,) = gauge.iter("text", "gauge-title")
        method = title.all_text.split(" = ")[0]
        assert method in ("wasserstein", "jensen_shannon")
        assert "higher is worse" in title.all_text
        marks = {m.all_text.split()[0]: m for m in gauge.iter("text", "mark")}
        assert set(marks) == {"warning", "critical"}
        positions.add(tuple(m.attrs["x"] for m in marks.values()))
        (dot,) = gauge.iter("circle", "value")
        level = float(title.all_text.rsplit("severity ", 1)[1].split()[0])
        x0, x1 = float(marks["warning"].attrs["x"]), float(marks["critical"].attrs["x"])
        expected = x0 + (min(level, 3.0) - 1.0) * (x1 - x0)
        assert float(dot.attrs["cx"]) == pytest.approx(expected, abs=1.0)
    assert len(positions) == 1  # every column's warning and critical marks at the same place
    wasserstein = [g for g in gauges if "reference standard deviations" in g.attrs["aria-label"]]
    assert len(wasserstein) == 20


def test_html_report_gauge_of_a_p_value_method_says_lower_is_worse(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    reference, current = {"a": rng.normal(size=300)}, {"a": rng.normal(0.5, 1, 300)}
    result = mlpulse.report(reference, current)
    column = result.to_dict()["columns"]["a"]
    assert column["method"] == "ks" and column["status"] == "critical"
    tree = _parse(result.save_html(tmp_path / "p.html").read_text())
    (gauge,) = tree.iter("svg", "gauge")
    assert "p-value, lower is worse" in gauge.attrs["aria-label"]
    marks = [m.all_text for m in gauge.iter("text", "mark")]
    assert marks == ["warning 0.05", "critical 0.01"]
    level = severity(column["value"], 0.05, 0.01, p_value=True)
    assert level > 2
    summary = tree.iter("table")[0]
    (row,) = [r for r in summary.iter("tr") if r.iter("a")]
    assert f"{level:.2f}" in [c.all_text for c in row.iter("td")]


@pytest.mark.parametrize("p_value", [False, True])
def test_severity_is_one_at_warning_two_at_critical_and_agrees_with_the_status(
    p_value: bool,
) -> None:
    thresholds = Thresholds(0.05, 0.01) if p_value else Thresholds(0.1, 0.25)
    w, c = thresholds.warning, thresholds.critical
    assert severity(w, w, c, p_value=p_value) == pytest.approx(1.0)
    assert severity(c, w, c, p_value=p_value) == pytest.approx(2.0)
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 1, 2000) ** (4 if p_value else 1) * (1 if p_value else 0.6)
    levels = [severity(v, w, c, p_value=p_value) for v in values]
    for value, level in zip(values, levels, strict=True):
        status = drift_status(value, thresholds, p_value=p_value)
        expected = Status.CRITICAL if level > 2 else Status.WARNING if level > 1 else Status.OK
        assert status == expected, (value, level)
        if not p_value:
            oracle = value / w if value <= w else 1 + (value - w) / (c - w)
        else:
            d, dw, dc = (-math.log10(x) for x in (value, w, c))
            oracle = d / dw if d <= dw else 1 + (d - dw) / (dc - dw)
        assert level == pytest.approx(oracle)
    # Monotone: worse values, higher severity.
    order = np.argsort(-values if p_value else values)
    assert np.all(np.diff(np.asarray(levels)[order]) >= -1e-12)
