"""The model page's tables: versions and their traffic weights, data quality per
feature, and segments worst first. All from the newest points in the range and the
registry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mlpulse.domain.models import ModelInfo
from mlpulse.domain.registry import ModelVersion, RoutingTable
from mlpulse.domain.series import MetricPoint
from mlpulse.server.dashboard.metric_series import (
    DRIFT_SHARE,
    ERROR_RATE,
    LATENCY,
    PERFORMANCE,
    QUALITY,
    THROUGHPUT,
    is_overall,
    segment_of,
    status_rank,
    worst_status,
)


@dataclass(frozen=True, slots=True)
class VersionRow:
    version: str
    stage: str | None  # None: not in the registry
    weight: int | None
    artifact_uri: str
    registered_at: float | None
    first_seen: float | None
    throughput: float | None
    p99_ms: float | None
    error_rate: float | None


@dataclass(slots=True)
class QualityRow:
    column: str
    values: dict[str, float] = field(default_factory=dict)  # QUALITY label → worst value
    status: str | None = None


@dataclass(slots=True)
class SegmentRow:
    segment: str
    throughput: float | None = None
    p99_ms: float | None = None
    error_rate: float | None = None
    drift_share: float | None = None
    performance: dict[str, float] = field(default_factory=dict)
    status: str | None = None


def _newest(points: Sequence[MetricPoint], name: str, **labels: str) -> MetricPoint | None:
    found = [
        p for p in points if p.name == name and all(p.labels.get(k) == v for k, v in labels.items())
    ]
    return max(found, key=lambda p: p.ts, default=None)


def version_rows(
    info: ModelInfo | None,
    registered: Sequence[ModelVersion],
    points: Sequence[MetricPoint],
) -> list[VersionRow]:
    """Every version the registry or the ingested events know, champion first."""
    seen = {v.version: v.first_seen for v in info.versions} if info else {}
    by_name = {v.version: v for v in registered}
    overall = [p for p in points if is_overall(p.labels)]
    rows = []
    for version in sorted(set(seen) | set(by_name)):
        reg = by_name.get(version)
        throughput = _newest(overall, THROUGHPUT, version=version)
        p99 = _newest(overall, LATENCY, version=version, percentile="p99")
        errors = _newest(overall, ERROR_RATE, version=version)
        rows.append(
            VersionRow(
                version=version,
                stage=reg.stage if reg else None,
                weight=reg.weight if reg else None,
                artifact_uri=reg.artifact_uri if reg else "",
                registered_at=reg.created_at if reg else None,
                first_seen=seen.get(version),
                throughput=throughput.value if throughput else None,
                p99_ms=1000.0 * p99.value if p99 else None,  # the series is in seconds
                error_rate=errors.value if errors else None,
            )
        )
    order = {"champion": 0, "challenger": 1, "shadow": 2, "archived": 4}
    return sorted(rows, key=lambda r: (order.get(r.stage or "", 3), r.version))


def routing_weights(table: RoutingTable | None) -> dict[str, int]:
    return {e.version: e.weight for e in table.entries} if table else {}


def quality_rows(points: Sequence[MetricPoint]) -> list[QualityRow]:
    """Per feature: the worst value over versions of each quality series, worst first."""
    rows: dict[str, QualityRow] = {}
    for p in points:
        label = QUALITY.get(p.name)
        column = p.labels.get("column")
        if label is None or column is None or not is_overall(p.labels):
            continue
        row = rows.setdefault(column, QualityRow(column))
        row.values[label] = max(row.values.get(label, p.value), p.value)
        row.status = worst_status([row.status, p.status])
    return sorted(
        rows.values(),
        key=lambda r: (-status_rank(r.status), -max(r.values.values(), default=0.0), r.column),
    )


def segment_rows(points: Sequence[MetricPoint]) -> list[SegmentRow]:
    """Per segment (``country=DE``): its newest traffic, latency, errors, drift and
    performance, the worst segment (by status, then error rate) first."""
    rows: dict[str, SegmentRow] = {}
    for p in points:
        segment = segment_of(p.labels)
        if not segment:
            continue
        row = rows.setdefault(segment, SegmentRow(segment))
        row.status = worst_status([row.status, p.status])
        if p.name == THROUGHPUT:
            row.throughput = (row.throughput or 0.0) + p.value  # versions add up
        elif p.name == LATENCY and p.labels.get("percentile") == "p99":
            ms = 1000.0 * p.value  # the series is in seconds
            row.p99_ms = max(row.p99_ms or ms, ms)
        elif p.name == ERROR_RATE:
            row.error_rate = max(row.error_rate or p.value, p.value)
        elif p.name == DRIFT_SHARE:
            row.drift_share = max(row.drift_share or p.value, p.value)
        elif p.name == PERFORMANCE and "metric" in p.labels:
            row.performance[p.labels["metric"]] = p.value
    return sorted(
        rows.values(),
        key=lambda r: (
            -status_rank(r.status),
            -(r.error_rate or 0.0),
            -(r.drift_share or 0.0),
            r.segment,
        ),
    )
