"""The dashboard's chart data and sparklines, from points given here: the drift heatmap
(severities, worst feature first, cells over the time axis) and a new model's sparkline."""

from __future__ import annotations

import re

from mlpulse.server.dashboard.chart_data import cell_seconds, heatmap_chart
from mlpulse.server.dashboard.sparklines import sparkline_svg

HOUR = 3600.0
START = 100 * HOUR


def test_heatmap_chart_orders_rows_by_their_highest_severity_not_by_name() -> None:
    rows = {
        "age": [(START, 0.2), (START + HOUR, 0.4)],
        "zip": [(START, 2.6), (START + HOUR, 0.1)],  # once critical: the worst
        "amount": [(START, 1.1), (START + HOUR, 1.3)],
    }

    body = heatmap_chart(rows, unit="drift severity", bucket_s=300.0, start=START - HOUR,
                         methods={"zip": "psi", "age": "ks"})  # fmt: skip

    assert body["y"] == ["zip", "amount", "age"]
    assert body["methods"] == ["psi", "", "ks"]
    assert body["max"] == 2.6
    assert body["points"] == 6


def test_heatmap_chart_draws_each_cell_over_the_hour_before_its_point() -> None:
    rows = {"amount": [(START, 1.0), (START + HOUR, 2.0), (START + 2 * HOUR, 3.0)]}

    body = heatmap_chart(rows, unit="drift severity", bucket_s=300.0, start=START + 30 * 60)

    # the first point's bucket ends before the range: it gives the cadence only; the
    # second's cell reaches into the range and is cut at its start
    ms = 1000
    assert body["cells"] == [
        [round((START + 30 * 60) * ms), 0, 2.0, round((START + HOUR + 300) * ms)],
        [round((START + HOUR + 300) * ms), 0, 3.0, round((START + 2 * HOUR + 300) * ms)],
    ]


def test_cell_seconds_is_the_median_gap_and_a_bucket_at_least() -> None:
    hourly = [(START + i * HOUR, 1.0) for i in range(5)] + [(START + 4.5 * HOUR, 1.0)]

    assert cell_seconds({"a": hourly}, bucket_s=300.0) == HOUR
    assert cell_seconds({"a": [(START, 1.0)], "b": []}, bucket_s=300.0) == 300.0


def test_sparkline_of_a_new_model_draws_its_single_point() -> None:
    svg = sparkline_svg([(START - 600.0, 0.5)], start=START - 86400.0, end=START)

    dot = re.search(r'<circle cx="([\d.]+)" cy="([\d.]+)" r="[\d.]+"', svg)
    assert dot, svg
    assert 94 < float(dot.group(1)) <= 96 and float(dot.group(2)) == 1.0  # right edge, top
    assert "<path" not in svg  # no empty line


def test_sparkline_draws_runs_as_lines_and_a_point_cut_off_by_gaps_as_a_dot() -> None:
    points = [(START - 20 * 1800, 1.0), (START - 19 * 1800, 2.0), (START - 10 * 1800, 1.0)]

    svg = sparkline_svg(points, start=START - 86400.0, end=START)

    path = re.search(r'<path d="([^"]+)"', svg)
    assert path and path.group(1).count("M") == 1 and path.group(1).count("L") == 1
    assert svg.count("<circle") == 1
