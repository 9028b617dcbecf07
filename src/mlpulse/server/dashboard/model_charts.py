"""The model page's charts: traffic, latency, errors, drift by feature, performance,
label coverage; each a bucketed query of one metric series (see ``chart_data``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, Final

from mlpulse.domain.registry import Deployment
from mlpulse.domain.window import parse_duration
from mlpulse.errors import InvalidInputError
from mlpulse.ports import SeriesStore
from mlpulse.server.dashboard.chart_data import Line, heatmap_chart, line_chart
from mlpulse.server.dashboard.metric_series import (
    DRIFT_SCORE,
    ERROR_RATE,
    ESTIMATED,
    LABEL_COVERAGE,
    LATENCY,
    PERFORMANCE,
    THROUGHPUT,
    bucketed_lines,
    is_overall,
)
from mlpulse.server.dashboard.time_range import TimeRange

LATENCY_QUANTILES: Final = ("p50", "p95", "p99")
MARKED_CHARTS: Final = frozenset({"traffic", "latency", "errors"})
SEVERITY_LEGEND: Final = "drift severity: 1 = warning threshold, 2 = critical"
DRIFT_LOOKBACK: Final = 2 * 3600.0


def _by_version(labels: Mapping[str, str]) -> str | None:
    return (labels.get("version", "") or "(all)") if is_overall(labels) else None


def _latency_line(labels: Mapping[str, str]) -> str | None:
    quantile = labels.get("percentile", "")
    if not is_overall(labels) or quantile not in LATENCY_QUANTILES:
        return None
    return f"{labels.get('version', '')} {quantile}".strip()


def _version_of(line: str) -> str:
    """The version a line name starts with ("v1 p99" → "v1"), its colour's key."""
    return line.split(" ", 1)[0] if " " in line else ""


def _performance_line(
    kind: str, windows: dict[str, float]
) -> Callable[[Mapping[str, str]], str | None]:
    """Lines of a version's metric; ``windows`` gets each line's window length (seconds,
    from the ``window`` label of realised performance: its points are dated at the
    window's start)."""

    def line(labels: Mapping[str, str]) -> str | None:
        if not is_overall(labels):
            return None
        name = f"{labels.get('version', '')} {labels.get('metric', '')} ({kind})".strip()
        with contextlib.suppress(InvalidInputError):
            if labels.get("window"):
                windows[name] = parse_duration(labels["window"], field="window")
        return name

    return line


def _by_column(labels: Mapping[str, str]) -> str | None:
    return labels.get("column") if is_overall(labels) else None


def _drift_heatmap(series: SeriesStore, model: str, window: TimeRange) -> dict[str, Any]:
    """Drift severity per feature (the worst version's), worst feature first, each row
    with the method(s) its severity comes from."""
    methods: dict[str, set[str]] = {}

    def column(labels: Mapping[str, str]) -> str | None:
        name = _by_column(labels)
        if name is not None and labels.get("method"):
            methods.setdefault(name, set()).add(labels["method"])
        return name

    # From a little before the range: its first cells (an hourly monitor's point at 10:00
    # describes 09:00 to 10:00) and the monitor's cadence, even when the range holds one
    # point of each feature.
    before = TimeRange(window.key, window.start - DRIFT_LOOKBACK, window.end, window.bucket_s)
    rows = bucketed_lines(series, DRIFT_SCORE, model, before, line_of=column, aggregate="max")
    return heatmap_chart(
        rows,
        unit="drift severity",
        legend=SEVERITY_LEGEND,
        bucket_s=window.bucket_s,
        start=window.start,
        methods={name: ", ".join(sorted(found)) for name, found in methods.items()},
    )


def _dated_from_first_event(
    lines: dict[str, Line], first_seen: Mapping[str, float], windows: Mapping[str, float]
) -> None:
    """A realised performance point is dated at its window's start (midnight for a 1-day
    window): the window a version began in gets its point at the version's first event,
    never before the version existed. Earlier windows (events sent late, with their own
    older times) keep their dates."""
    for name, points in lines.items():
        began = first_seen.get(_version_of(name))
        window = windows.get(name)
        if began is not None and window is not None:
            lines[name] = [
                (began if ts < began < ts + window else ts, value) for ts, value in points
            ]


def deployment_markers(deployments: list[Deployment], window: TimeRange) -> list[tuple[float, str]]:
    """Registry deployments in the window, as (time, "promote v2") chart markers."""
    return [
        (d.at, f"{d.kind} {d.version}")
        for d in deployments
        if window.start <= d.at <= window.end and d.kind != "register"
    ]


def model_chart(
    chart: str,
    series: SeriesStore,
    model: str,
    window: TimeRange,
    markers: list[tuple[float, str]],
    *,
    first_seen: Mapping[str, float] | None = None,
) -> dict[str, Any] | None:
    """The JSON of the model page's chart named ``chart`` (None: no such chart).

    ``first_seen``: each version's first event (the performance points of a window it
    began in are dated there)."""
    marks = markers if chart in MARKED_CHARTS else []
    if chart == "traffic":
        lines = bucketed_lines(series, THROUGHPUT, model, window, line_of=_by_version)
        return line_chart(lines, unit="predictions/s", markers=marks)
    if chart == "latency":
        # The max of a bucket's p99s: a spike must not vanish into the average.
        lines = bucketed_lines(
            series, LATENCY, model, window, line_of=_latency_line, aggregate="max"
        )
        # p99 is what the default monitor alerts on: p50 and p95 are a legend click away.
        hidden = [name for name in lines if not name.endswith("p99")]
        return line_chart(
            lines,
            unit="s",
            markers=marks,
            hidden=hidden,
            color_of={name: _version_of(name) for name in lines},
            line_type={n: "dotted" if n.endswith("p50") else "dashed" for n in hidden},
        )
    if chart == "errors":
        lines = bucketed_lines(series, ERROR_RATE, model, window, line_of=_by_version)
        return line_chart(lines, unit="share", markers=marks)
    if chart == "drift-heatmap":
        return _drift_heatmap(series, model, window)
    if chart == "performance":
        windows: dict[str, float] = {}
        measured = bucketed_lines(
            series, PERFORMANCE, model, window, line_of=_performance_line("realised", windows)
        )
        _dated_from_first_event(measured, first_seen or {}, windows)
        estimated = bucketed_lines(
            series, ESTIMATED, model, window, line_of=_performance_line("estimated", {})
        )
        measured.update(estimated)
        # Label coverage has a chart of its own (label-coverage), not a second axis here.
        return line_chart(
            measured,
            unit="metric",
            scale=True,
            color_of={name: _version_of(name) for name in measured},
            line_type=dict.fromkeys(estimated, "dashed"),
        )
    if chart == "label-coverage":
        lines = bucketed_lines(series, LABEL_COVERAGE, model, window, line_of=_by_version)
        return line_chart(lines, unit="share labelled")
    return None


CHARTS: Final = ("traffic", "latency", "errors", "drift-heatmap", "performance", "label-coverage")
