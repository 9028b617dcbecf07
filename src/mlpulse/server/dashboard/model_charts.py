"""The model page's charts: traffic, latency, errors, drift by feature, performance,
label coverage; each a bucketed query of one metric series (see ``chart_data``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from mlpulse.domain.registry import Deployment
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


def _performance_line(kind: str) -> Callable[[Mapping[str, str]], str | None]:
    def line(labels: Mapping[str, str]) -> str | None:
        if not is_overall(labels):
            return None
        return f"{labels.get('version', '')} {labels.get('metric', '')} ({kind})".strip()

    return line


def _by_column(labels: Mapping[str, str]) -> str | None:
    return labels.get("column") if is_overall(labels) else None


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
) -> dict[str, Any] | None:
    """The JSON of the model page's chart named ``chart`` (None: no such chart)."""
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
        rows = bucketed_lines(
            series, DRIFT_SCORE, model, window, line_of=_by_column, aggregate="max"
        )
        return heatmap_chart(rows, unit="drift score")
    if chart == "performance":
        measured: dict[str, Line] = {}
        measured.update(
            bucketed_lines(
                series, PERFORMANCE, model, window, line_of=_performance_line("realised")
            )
        )
        estimated = bucketed_lines(
            series, ESTIMATED, model, window, line_of=_performance_line("estimated")
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
