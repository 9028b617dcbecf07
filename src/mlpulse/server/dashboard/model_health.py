"""The overview: every model's health at a glance, from the newest metric points,
the open alerts and the open incidents.

Health is about the versions that serve now: a point counts only while it is fresh
(newer than :data:`FRESH_FOR`, or twice its monitor's ``every`` when that is longer),
and never when its version is archived in the registry. An archived version's last
``critical`` point would otherwise colour the model for as long as the newest point of
that series is kept, hours after it served its last request.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from mlpulse.domain.alerts import Alert, AlertState
from mlpulse.domain.incidents import Incident
from mlpulse.domain.series import MetricPoint
from mlpulse.ports import SeriesStore, TrafficSource
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
RATE_WINDOW: Final = 300.0
"""The window of the traffic shown as a number: predictions/s over the last five
minutes, counted from the events (0 once none came in), not the throughput monitor's
newest average, which holds its value until the monitor runs again."""
FRESH_FOR: Final = 2 * 3600.0
"""How long a point stays part of a model's health: two runs of an hourly monitor (drift,
performance), the slowest default cadence, so an hourly verdict never drops out between
two runs. A monitor configured to run less often keeps its points for two of its runs."""


@dataclass(frozen=True, slots=True)
class ModelHealth:
    """One row of the overview. Numbers are None when the model has no such series."""

    model: str
    status: str  # critical, warning, ok, or "no data"
    throughput: float | None  # predictions per second, all versions (see rate)
    p99_ms: float | None  # the worst version's
    error_rate: float | None  # over all versions, weighted by their traffic
    worst_drift: str | None  # the most drifted feature ("amount")
    worst_drift_score: float | None
    drift_share: float | None
    open_alerts: int
    open_incidents: int
    last_point_at: float | None  # of any point, fresh or not
    basis: str = ""  # what the status and the numbers come from (the badge's tooltip)


def _newest_per_version(points: Sequence[MetricPoint]) -> dict[str, MetricPoint]:
    found: dict[str, MetricPoint] = {}
    for p in points:
        version = p.labels.get("version", "")
        if version not in found or found[version].ts < p.ts:
            found[version] = p
    return found


def _ago(seconds: float) -> str:
    return f"{seconds / 3600:.3g} h" if seconds >= 3600 else f"{seconds / 60:.3g} min"


def _versions(names: Collection[str]) -> str:
    return ", ".join(sorted(v or "(no version)" for v in names))


def model_health(
    model: str,
    points: Sequence[MetricPoint],
    alerts: Sequence[Alert],
    incidents: Sequence[Incident],
    *,
    now: float,
    archived: Collection[str] = (),
    every: Mapping[str, float] | None = None,
    rate: float | None = None,
) -> ModelHealth:
    """The row of ``model`` from its newest ``points`` (any series, any segment).

    Only the live points count for the status and the numbers: those of a version not in
    ``archived`` (the registry's archived versions), newer than ``now`` less
    :data:`FRESH_FOR` or less twice ``every[monitor]`` (seconds) when that is longer.
    ``rate`` (predictions/s over the last :data:`RATE_WINDOW`, :func:`recent_rate`) is the
    throughput shown when given; else the throughput monitor's newest points are.
    """
    cadence = every or {}

    def fresh(p: MetricPoint) -> bool:
        horizon = max(FRESH_FOR, 2 * cadence.get(p.labels.get("monitor", ""), 0.0))
        return p.ts >= now - horizon

    live = [p for p in points if p.labels.get("version", "") not in archived and fresh(p)]
    left_out = {p.labels.get("version", "") for p in points} - {
        p.labels.get("version", "") for p in live
    }
    overall = [p for p in live if is_overall(p.labels)]

    def of(name: str, **labels: str) -> list[MetricPoint]:
        return [
            p
            for p in overall
            if p.name == name and all(p.labels.get(k) == v for k, v in labels.items())
        ]

    traffic = _newest_per_version(of(THROUGHPUT))
    throughput = sum(p.value for p in traffic.values()) if traffic else None
    if rate is not None:
        throughput = rate
    p99 = _newest_per_version(of(LATENCY, percentile="p99"))
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
    # Drift scores are severities (1 = a column's warning threshold, 2 = its critical
    # one), comparable across methods: the worst is the highest.
    drift = [p for p in of(DRIFT_SCORE) if math.isfinite(p.value)]
    worst = max(drift, key=lambda p: (p.value, status_rank(p.status)), default=None)
    shares = of(DRIFT_SHARE)
    open_alerts = [
        a for a in alerts if a.labels.get("model") == model and a.state in OPEN_ALERT_STATES
    ]
    open_incidents = [i for i in incidents if i.model == model and i.status != "resolved"]
    firing: list[str | None] = [
        a.severity.value for a in open_alerts if a.state == AlertState.FIRING and a.severity.rank
    ]
    status = worst_status([p.status for p in live] + firing)
    if status and status != "insufficient_data":
        shown = status
    else:
        shown = "ok" if live else "stale" if points else "no data"
    basis = (
        f"Worst of the monitors' newest verdicts on the live versions"
        f" ({_versions({p.labels.get('version', '') for p in live}) or 'none'};"
        f" points of the last {_ago(FRESH_FOR)}) and of {len(firing)} firing"
        f" alert{'s' if len(firing) != 1 else ''}."
    )
    if left_out:
        stale = sorted(left_out - set(archived))
        gone = sorted(left_out & set(archived))
        basis += (
            " Left out:"
            + "".join(
                [
                    f" {_versions(gone)} (archived in the registry)" if gone else "",
                    ";" if gone and stale else "",
                    f" {_versions(stale)} (no point in the last {_ago(FRESH_FOR)})"
                    if stale
                    else "",
                ]
            )
            + "."
        )
    return ModelHealth(
        model=model,
        status=shown,
        throughput=throughput,
        p99_ms=max((1000.0 * p.value for p in p99.values()), default=None),  # s → ms
        error_rate=error_rate,
        worst_drift=worst.labels.get("column") if worst else None,
        worst_drift_score=worst.value if worst else None,
        drift_share=max((p.value for p in shares), default=None),
        open_alerts=len(open_alerts),
        open_incidents=len(open_incidents),
        last_point_at=max((p.ts for p in points), default=None),
        basis=basis,
    )  # fmt: skip


def recent_rate(traffic: TrafficSource, model: str, *, now: float) -> float:
    """``model``'s predictions per second over the :data:`RATE_WINDOW` ending at ``now``:
    their count over the window's length, all versions."""
    counted = traffic.version_summaries(model, start=now - RATE_WINDOW, end=now)
    return sum(v.count for v in counted) / RATE_WINDOW


def known_models(model_names: Sequence[str], series: SeriesStore) -> list[str]:
    """Models the metadata knows, and those only the metric points name."""
    names = set(model_names)
    names.update(p.labels["model"] for p in series.latest_points() if "model" in p.labels)
    return sorted(names)
