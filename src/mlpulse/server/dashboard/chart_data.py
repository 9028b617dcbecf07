"""The JSON every chart is drawn from (``static/dashboard.js`` reads it).

Times are epoch milliseconds (ECharts' time axis). Shapes:

* ``line``: ``series`` of ``{name, data: [[ms, value], ...]}``, optional ``markers``
  (``{at, label}``: deployments, drawn as vertical lines) and ``y_axes`` (series
  names drawn against a second axis);
* ``heatmap``: ``x`` (bucket times), ``y`` (row names), ``cells`` of ``[x index,
  y index, value]``;
* ``interval``: ``categories`` and ``series`` of ``{name, data: [[estimate, low,
  high], ...]}`` (an estimate with its interval per category).

``points`` counts the values drawn; 0 makes the page say "no data in this range".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

Line = list[tuple[float, float]]


def _ms(ts: float) -> int:
    return round(ts * 1000)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def line_chart(
    lines: Mapping[str, Line],
    *,
    unit: str,
    markers: Sequence[tuple[float, str]] = (),
    second_axis: Sequence[str] = (),
    second_unit: str = "",
    scale: bool = False,
) -> dict[str, Any]:
    """``scale``: the y axis spans the values only, not from zero (AUC, accuracy)."""
    series = [
        {"name": name, "data": [[_ms(ts), _finite(v)] for ts, v in points]}
        for name, points in sorted(lines.items())
        if points
    ]
    points = sum(len(s["data"]) for s in series)
    return {
        "kind": "line",
        "unit": unit,
        "series": series,
        "markers": [{"at": _ms(at), "label": label} for at, label in markers],
        "second_axis": [name for name in second_axis if name in lines],
        "second_unit": second_unit,
        "scale": scale,
        "points": points,
    }


def heatmap_chart(rows: Mapping[str, Line], *, unit: str) -> dict[str, Any]:
    times = sorted({ts for line in rows.values() for ts, _ in line})
    index = {ts: i for i, ts in enumerate(times)}
    names = sorted(rows)
    cells = [
        [index[ts], y, round(v, 6)]
        for y, name in enumerate(names)
        for ts, v in rows[name]
        if math.isfinite(v)
    ]
    return {
        "kind": "heatmap",
        "unit": unit,
        "x": [_ms(ts) for ts in times],
        "y": names,
        "cells": cells,
        "max": max((c[2] for c in cells), default=0.0),
        "points": len(cells),
    }


def interval_chart(
    categories: Sequence[str], series: Mapping[str, Sequence[tuple[float, float, float]]]
) -> dict[str, Any]:
    drawn = [
        {"name": name, "data": [[_finite(e), _finite(lo), _finite(hi)] for e, lo, hi in rows]}
        for name, rows in series.items()
    ]
    points = sum(1 for s in drawn for row in s["data"] if row[0] is not None)
    return {"kind": "interval", "categories": list(categories), "series": drawn, "points": points}
