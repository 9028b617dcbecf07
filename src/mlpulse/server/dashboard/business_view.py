"""The business view: KPIs (outcome events logged with ``log_outcome``) per hour, the
model's technical metrics per hour, and how strongly each pair moves together.

A KPI is the hourly sum of its outcomes' values (revenue), or the hourly count of them
when none carries a value (clicks). Hours between a KPI's first and last outcome without
any count as 0. Correlations pair the hours where both sides have a value
(:func:`mlpulse.core.correlation.correlation`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from fastapi import Request

from mlpulse.core.correlation import CorrelationResult, correlation
from mlpulse.ports import SeriesStore, TrafficSource
from mlpulse.server.dashboard.chart_data import Line, Panel
from mlpulse.server.dashboard.metric_series import (
    DRIFT_SHARE,
    ERROR_RATE,
    LATENCY,
    THROUGHPUT,
    bucketed_lines,
    is_overall,
)
from mlpulse.server.dashboard.time_range import HOUR, TimeRange


@dataclass(frozen=True, slots=True)
class Technical:
    """A technical metric per hour: ``aggregate`` within a version's hour, then
    ``across`` versions (``sum`` for traffic, ``max`` for the worst version)."""

    label: str
    name: str
    labels: tuple[tuple[str, str], ...]
    aggregate: str
    across: str


TECHNICAL: Final = (
    Technical("p99 latency (s)", LATENCY, (("percentile", "p99"),), "max", "max"),
    Technical("error rate", ERROR_RATE, (), "avg", "max"),
    Technical("drift share", DRIFT_SHARE, (), "max", "max"),
    Technical("throughput (/s)", THROUGHPUT, (), "avg", "sum"),
)


# The technical chart's small multiples, one per metric: seconds and a share on one
# axis flatten the share into a line at zero, and even two shares rarely share a scale
# (an error rate of 1 % under a drift share of 50 %).
TECHNICAL_PANELS: Final = (
    Panel("p99 latency", "s", ("p99 latency (s)",)),
    Panel("error rate", "share of predictions", ("error rate",)),
    Panel("drift share", "share of features", ("drift share",)),
    Panel("throughput", "predictions/s", ("throughput (/s)",)),
)


def kpi_panels(kpis: Mapping[str, Line]) -> list[Panel]:
    """One panel per KPI: clicks counted and revenue summed are different units, and
    even two sums rarely share a scale.

    >>> [(p.title, p.unit) for p in kpi_panels({"revenue (sum)": [], "click (count)": []})]
    [('click', 'count per hour'), ('revenue', 'sum per hour')]
    """
    return [
        Panel(
            name.rsplit(" (", 1)[0],
            "count per hour" if name.endswith("(count)") else "sum per hour",
            (name,),
        )
        for name in sorted(kpis)
    ]


@dataclass(frozen=True, slots=True)
class CorrelationRow:
    kpi: str
    metric: str
    result: CorrelationResult


def kpi_lines(traffic: TrafficSource, model: str, window: TimeRange) -> dict[str, Line]:
    """Each KPI of ``model``'s outcomes in ``window``, one value per hour."""
    rows = traffic.outcome_buckets(model, start=window.start, end=window.end, bucket_s=HOUR)
    per_name: dict[str, dict[float, tuple[int, float, int]]] = {}
    for row in rows:
        per_name.setdefault(row.name, {})[row.ts] = (row.events, row.total, row.valued)
    lines: dict[str, Line] = {}
    for name, buckets in per_name.items():
        summed = any(valued for _, _, valued in buckets.values())
        label = f"{name} ({'sum' if summed else 'count'})"
        first, last = min(buckets), max(buckets)
        hours = [first + i * HOUR for i in range(round((last - first) / HOUR) + 1)]
        lines[label] = [
            (h, (buckets[h][1] if summed else float(buckets[h][0])) if h in buckets else 0.0)
            for h in hours
        ]
    return lines


class HourlyCache:
    """Technical lines per (model, range, minute of the collector's clock).

    The business page and its ``technical`` chart ask for the same hourly lines within
    moments of each other; over 30 days they cost four scans of the metric points
    (about 150 ms here). Hourly buckets barely move within a minute, so the answer is
    kept for the minute it was computed in.
    """

    def __init__(self, *, size: int = 32) -> None:
        self._size = size
        self._lines: dict[tuple[str, str, int], dict[str, Line]] = {}
        self._lock = threading.Lock()

    def technical(self, series: SeriesStore, model: str, window: TimeRange) -> dict[str, Line]:
        key = (model, window.key, int(window.end // 60))
        with self._lock:
            found = self._lines.get(key)
        if found is None:
            found = technical_lines(series, model, window)
            with self._lock:
                if len(self._lines) >= self._size:
                    self._lines.clear()
                self._lines[key] = found
        return found


_cache_lock = threading.Lock()


def hourly_cache(request: Request) -> HourlyCache:
    """The app's cache of technical lines, made on first use."""
    state = request.app.state
    with _cache_lock:
        found: HourlyCache | None = getattr(state, "dashboard_hourly", None)
        if found is None:
            found = state.dashboard_hourly = HourlyCache()
    return found


def technical_lines(series: SeriesStore, model: str, window: TimeRange) -> dict[str, Line]:
    """The model's technical metrics in ``window``, one value per hour."""
    hourly = TimeRange(window.key, window.start, window.end, HOUR)
    lines: dict[str, Line] = {}
    for metric in TECHNICAL:
        wanted = dict(metric.labels)

        def by_version(labels: Mapping[str, str], wanted: dict[str, str] = wanted) -> str | None:
            if not is_overall(labels) or any(labels.get(k) != v for k, v in wanted.items()):
                return None
            return labels.get("version", "")

        per_version = bucketed_lines(
            series, metric.name, model, hourly, line_of=by_version, aggregate=metric.aggregate
        )
        combined: dict[float, float] = {}
        for line in per_version.values():
            for ts, value in line:
                known = combined.get(ts)
                if known is None:
                    combined[ts] = value
                elif metric.across == "sum":
                    combined[ts] = known + value
                else:
                    combined[ts] = max(known, value)
        if combined:
            lines[metric.label] = sorted(combined.items())
    return lines


def correlations(kpis: Mapping[str, Line], technical: Mapping[str, Line]) -> list[CorrelationRow]:
    """Every (KPI, technical metric) pair over the hours both have."""
    rows = []
    for kpi, kpi_line in sorted(kpis.items()):
        kpi_values = dict(kpi_line)
        for metric, line in technical.items():
            pairs = [(v, kpi_values[ts]) for ts, v in line if ts in kpi_values]
            result = correlation([a for a, _ in pairs], [b for _, b in pairs])
            rows.append(CorrelationRow(kpi, metric, result))
    return rows
