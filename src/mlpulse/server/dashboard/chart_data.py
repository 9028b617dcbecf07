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
* ``heatmap``: ``y`` (row names, worst first), ``methods`` (one per row), ``cells``
  of ``[from ms, y index, value, to ms]`` over a time axis, ``legend`` (what the colour
  scale means);
* ``interval``: ``categories`` and ``series`` of ``{name, data: [[estimate, low,
  high], ...]}`` (an estimate with its interval per category).

``points`` counts the values drawn; 0 makes the page say "no data in this range".
The data routes add ``x_range`` (``[start ms, end ms]``, the page's selected range):
every time axis of a page spans it, so the charts of one page line up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
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


def cell_seconds(rows: Mapping[str, Line], *, bucket_s: float) -> float:
    """How long one heatmap cell lasts: the median time between a row's consecutive
    points (an hourly drift monitor's hour), a bucket at least.

    >>> cell_seconds({"a": [(0.0, 1.0), (3600.0, 1.0), (7200.0, 1.0)]}, bucket_s=300.0)
    3600.0
    >>> cell_seconds({"a": [(0.0, 1.0)]}, bucket_s=300.0)
    300.0
    """
    gaps = sorted(b[0] - a[0] for line in rows.values() for a, b in pairwise(line))
    return max(bucket_s, gaps[len(gaps) // 2] if gaps else 0.0)


def heatmap_chart(
    rows: Mapping[str, Line],
    *,
    unit: str,
    bucket_s: float,
    start: float,
    methods: Mapping[str, str] | None = None,
    legend: str = "",
) -> dict[str, Any]:
    """Rows worst first (the highest value, then the name), drawn over a time axis.

    Each point (a bucket's start time ``ts`` and its value) is a cell over the
    :func:`cell_seconds` that end with its bucket, no earlier than ``start``: a drift
    point describes the window before it. Points of buckets that end by ``start`` only
    count for the cadence. ``cells`` are ``[from ms, row index, value,
    to ms]``; ``methods`` (row name → how its values were measured) go to the tooltip.
    """
    cell_s = cell_seconds(rows, bucket_s=bucket_s)
    # Points before ``start`` only tell the cadence and the cells that reach into it.
    rows = {
        name: kept
        for name, line in rows.items()
        if (kept := [(ts, v) for ts, v in line if ts + bucket_s > start])
    }
    worst = {
        name: max((v for _, v in line if math.isfinite(v)), default=-math.inf)
        for name, line in rows.items()
    }
    names = sorted(rows, key=lambda name: (-worst[name], name))
    cells = [
        [_ms(max(start, ts + bucket_s - cell_s)), y, round(v, 6), _ms(ts + bucket_s)]
        for y, name in enumerate(names)
        for ts, v in rows[name]
        if math.isfinite(v)
    ]
    return {
        "kind": "heatmap",
        "unit": unit,
        "legend": legend,
        "y": names,
        "methods": [(methods or {}).get(name, "") for name in names],
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
