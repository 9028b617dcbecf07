"""The JSON every chart is drawn from (``static/dashboard.js`` reads it).

Times are epoch milliseconds (ECharts' time axis). Shapes:

* ``line``: ``series`` of ``{name, data: [[ms, value], ...]}``, optional ``markers``
  (``{at, label}``: deployments, drawn as vertical lines), ``second_axis`` (series
  names drawn against a second axis), ``hidden`` (series whose legend entry starts
  switched off: drawn once the reader turns them on), ``color_of`` (series name → a
  key: series of one key share a colour, as a version's p50, p95 and p99 do),
  ``line_type`` (series name → ``dashed`` or ``dotted``: estimates) and ``panels``
  (small multiples: ``{title, unit, series}``, one y axis of its own each, stacked
  over one time axis; a series in no panel goes to the first);
* ``heatmap``: ``x`` (bucket times), ``y`` (row names), ``cells`` of ``[x index,
  y index, value]``;
* ``interval``: ``categories`` and ``series`` of ``{name, data: [[estimate, low,
  high], ...]}`` (an estimate with its interval per category).

``points`` counts the values drawn; 0 makes the page say "no data in this range".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Line = list[tuple[float, float]]


def _ms(ts: float) -> int:
    return round(ts * 1000)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class Panel:
    """One of a line chart's small multiples: its title, the unit of its y axis, and
    the series drawn in it."""

    title: str
    unit: str
    series: Sequence[str]


def line_chart(
    lines: Mapping[str, Line],
    *,
    unit: str,
    markers: Sequence[tuple[float, str]] = (),
    second_axis: Sequence[str] = (),
    second_unit: str = "",
    scale: bool = False,
    hidden: Sequence[str] = (),
    color_of: Mapping[str, str] | None = None,
    line_type: Mapping[str, str] | None = None,
    panels: Sequence[Panel] = (),
) -> dict[str, Any]:
    """``scale``: the y axis spans the values only, not from zero (AUC, accuracy).

    Names in ``second_axis``, ``hidden``, ``color_of``, ``line_type`` and ``panels``
    that have no points are left out; so is a panel left without series.
    """
    series = [
        {"name": name, "data": [[_ms(ts), _finite(v)] for ts, v in points]}
        for name, points in sorted(lines.items())
        if points
    ]
    drawn = {s["name"] for s in series}
    points = sum(len(s["data"]) for s in series)
    return {
        "kind": "line",
        "unit": unit,
        "series": series,
        "markers": [{"at": _ms(at), "label": label} for at, label in markers],
        "second_axis": [name for name in second_axis if name in drawn],
        "second_unit": second_unit,
        "scale": scale,
        "hidden": [name for name in hidden if name in drawn],
        "color_of": {k: v for k, v in (color_of or {}).items() if k in drawn},
        "line_type": {k: v for k, v in (line_type or {}).items() if k in drawn},
        "panels": [
            {"title": p.title, "unit": p.unit, "series": [n for n in p.series if n in drawn]}
            for p in panels
            if any(n in drawn for n in p.series)
        ],
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
