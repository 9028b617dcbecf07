"""Reading the evaluator's metric series for the dashboard: bucketed in DuckDB, split
into the model as a whole and its segments.

A point belongs to the model as a whole when all its labels name the series (model,
version, monitor, column, percentile, metric, ...); any other label (``country``,
``mode``, a ``segment_by`` tag) makes it a segment's point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Final

from mlpulse.domain.series import MetricPoint
from mlpulse.domain.series_catalogue import NOT_SEGMENTS
from mlpulse.ports import SeriesStore
from mlpulse.server.dashboard.chart_data import Line
from mlpulse.server.dashboard.time_range import TimeRange

STATUS_RANK: Final = {"critical": 3, "warning": 2, "ok": 1, "insufficient_data": 0}

THROUGHPUT: Final = "mlpulse_throughput_per_second"
LATENCY: Final = "mlpulse_latency_seconds"
ERROR_RATE: Final = "mlpulse_error_rate"
DRIFT_SCORE: Final = "mlpulse_drift_score"
DRIFT_SHARE: Final = "mlpulse_drift_share"
PERFORMANCE: Final = "mlpulse_performance"
ESTIMATED: Final = "mlpulse_estimated_performance"
LABEL_COVERAGE: Final = "mlpulse_label_coverage"
QUALITY: Final = {
    "mlpulse_missing_rate": "missing",
    "mlpulse_type_error_rate": "type errors",
    "mlpulse_out_of_range_share": "out of range",
    "mlpulse_unseen_share": "unseen categories",
}


def is_overall(labels: Mapping[str, str]) -> bool:
    """True for a point of the model as a whole, False for a segment's.

    >>> is_overall({"model": "m", "version": "v1", "percentile": "p99"})
    True
    >>> is_overall({"model": "m", "version": "v1", "country": "DE"})
    False
    """
    return all(key in NOT_SEGMENTS for key in labels)


def segment_of(labels: Mapping[str, str]) -> str:
    """The segment a point belongs to, as ``key=value`` pairs ("" for the whole model).

    >>> segment_of({"model": "m", "country": "DE", "mode": "batch"})
    'country=DE, mode=batch'
    """
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in NOT_SEGMENTS)


def status_rank(status: str | None) -> int:
    return STATUS_RANK.get(status or "", 0)


def worst_status(statuses: Iterable[str | None]) -> str | None:
    """The worst of some statuses (None when none has one).

    >>> worst_status(["ok", None, "warning"]), worst_status([None])
    ('warning', None)
    """
    known = [s for s in statuses if s]
    return max(known, key=status_rank) if known else None


def bucketed_lines(
    series: SeriesStore,
    name: str,
    model: str,
    window: TimeRange,
    *,
    line_of: Callable[[Mapping[str, str]], str | None],
    aggregate: str = "avg",
) -> dict[str, Line]:
    """The series ``name`` of ``model`` in ``window``, one line per ``line_of(labels)``
    (None leaves a point out), one value per bucket.

    Label sets that fall on the same line (two monitors of one version) are combined
    with the same aggregate: ``avg`` weighted by the points behind each, ``max`` the max.
    """
    rows = series.bucketed_points(
        name,
        matchers={"model": model},
        start=window.start,
        end=window.end,
        bucket_s=window.bucket_s,
        aggregate=aggregate,
    )
    sums: dict[str, dict[float, tuple[float, int]]] = {}
    for row in rows:
        line = line_of(row.labels)
        if line is None:
            continue
        buckets = sums.setdefault(line, {})
        known = buckets.get(row.ts)
        if known is None:
            buckets[row.ts] = (row.value, row.n)
        elif aggregate == "avg":
            total, count = known
            buckets[row.ts] = (
                (total * count + row.value * row.n) / (count + row.n),
                count + row.n,
            )
        elif aggregate == "max":
            buckets[row.ts] = (max(known[0], row.value), known[1] + row.n)
        else:
            buckets[row.ts] = (known[0] + row.value, known[1] + row.n)
    return {
        line: [(ts, value) for ts, (value, _) in sorted(buckets.items())]
        for line, buckets in sums.items()
    }


def latest_of_model(
    series: SeriesStore, model: str, *, since: float, until: float
) -> list[MetricPoint]:
    """The newest point of each of ``model``'s series, if it is in [since, until]."""
    return [
        p
        for p in series.latest_points()
        if p.labels.get("model") == model and since <= p.ts <= until
    ]
