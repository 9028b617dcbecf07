"""The overview: every model's health at a glance, from the newest metric points,
the open alerts and the open incidents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlpulse.adapters.store.duckdb_series import DuckDBSeriesStore
from mlpulse.domain.alerts import Alert, AlertState
from mlpulse.domain.incidents import Incident
from mlpulse.domain.series import MetricPoint
from mlpulse.server.dashboard.metric_series import (
    DRIFT_SCORE,
    DRIFT_SHARE,
    ERROR_RATE,
    LATENCY,
    THROUGHPUT,
    is_overall,
    status_rank,
    worst_status,
)

OPEN_ALERT_STATES = (AlertState.FIRING, AlertState.PENDING)


@dataclass(frozen=True, slots=True)
class ModelHealth:
    """One row of the overview. Numbers are None when the model has no such series."""

    model: str
    status: str  # critical, warning, ok, or "no data"
    throughput: float | None  # predictions per second, all versions
    p99_ms: float | None  # the worst version's
    error_rate: float | None  # over all versions, weighted by their traffic
    worst_drift: str | None  # the most drifted feature ("amount")
    worst_drift_score: float | None
    drift_share: float | None
    open_alerts: int
    open_incidents: int
    last_point_at: float | None


def _newest_per_version(points: Sequence[MetricPoint]) -> dict[str, MetricPoint]:
    found: dict[str, MetricPoint] = {}
    for p in points:
        version = p.labels.get("version", "")
        if version not in found or found[version].ts < p.ts:
            found[version] = p
    return found


def model_health(
    model: str,
    points: Sequence[MetricPoint],
    alerts: Sequence[Alert],
    incidents: Sequence[Incident],
) -> ModelHealth:
    """The row of ``model`` from its newest ``points`` (any series, any segment)."""
    overall = [p for p in points if is_overall(p.labels)]

    def of(name: str, **labels: str) -> list[MetricPoint]:
        return [
            p
            for p in overall
            if p.name == name and all(p.labels.get(k) == v for k, v in labels.items())
        ]

    traffic = _newest_per_version(of(THROUGHPUT))
    throughput = sum(p.value for p in traffic.values()) if traffic else None
    p99 = _newest_per_version(of(LATENCY, quantile="p99"))
    errors = _newest_per_version(of(ERROR_RATE))
    error_rate: float | None = None
    if errors:
        weights = {v: traffic[v].value if v in traffic else 0.0 for v in errors}
        total = sum(weights.values())
        error_rate = (
            sum(errors[v].value * weights[v] for v in errors) / total
            if total > 0
            else max(p.value for p in errors.values())
        )
    drift = of(DRIFT_SCORE)
    worst = max(drift, key=lambda p: (status_rank(p.status), p.value), default=None)
    shares = of(DRIFT_SHARE)
    open_alerts = [
        a for a in alerts if a.labels.get("model") == model and a.state in OPEN_ALERT_STATES
    ]
    open_incidents = [i for i in incidents if i.model == model and i.status != "resolved"]
    status = worst_status(
        [p.status for p in points]
        + [
            a.severity.value
            for a in open_alerts
            if a.state == AlertState.FIRING and a.severity.rank
        ]
    )
    return ModelHealth(
        model=model,
        status=status if status and status != "insufficient_data" else (
            "ok" if points else "no data"
        ),
        throughput=throughput,
        p99_ms=max((p.value for p in p99.values()), default=None),
        error_rate=error_rate,
        worst_drift=worst.labels.get("column") if worst else None,
        worst_drift_score=worst.value if worst else None,
        drift_share=max((p.value for p in shares), default=None),
        open_alerts=len(open_alerts),
        open_incidents=len(open_incidents),
        last_point_at=max((p.ts for p in points), default=None),
    )  # fmt: skip


def known_models(model_names: Sequence[str], series: DuckDBSeriesStore) -> list[str]:
    """Models the metadata knows, and those only the metric points name."""
    names = set(model_names)
    names.update(p.labels["model"] for p in series.latest_points() if "model" in p.labels)
    return sorted(names)
