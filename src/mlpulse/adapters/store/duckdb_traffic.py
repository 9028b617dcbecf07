"""Traffic per version and business outcomes per bucket, from the event store's DuckDB.

Implements :class:`mlpulse.ports.TrafficSource`: the deployment impact reads
``version_summaries`` (the event store's own), the dashboard's business view the
``outcomes`` table (name, value, model, version, request_id, unit_id, ts, ...) bucketed
here, through the store's read-only :meth:`DuckDBEventStore.query`, which runs on its
reader cursors and maps DuckDB's errors to ours.
"""

from __future__ import annotations

from typing import Any, Protocol

from mlpulse.domain.models import VersionSummary
from mlpulse.domain.series import OutcomeBucket


class _Events(Protocol):
    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]: ...

    def version_summaries(
        self, model: str, *, start: float, end: float
    ) -> list[VersionSummary]: ...


class DuckDBTraffic:
    def __init__(self, events: _Events) -> None:
        self._events = events

    def version_summaries(self, model: str, *, start: float, end: float) -> list[VersionSummary]:
        return self._events.version_summaries(model, start=start, end=end)

    def outcome_models(self) -> list[str]:
        rows = self._events.query(
            "SELECT DISTINCT model FROM outcomes WHERE model IS NOT NULL ORDER BY model"
        )
        return [str(model) for (model,) in rows]

    def outcome_buckets(
        self, model: str, *, start: float, end: float, bucket_s: float
    ) -> list[OutcomeBucket]:
        step = max(1, round(bucket_s * 1e6))
        rows = self._events.query(
            f"""
            SELECT (epoch_us(ts) // {step}) * {step} AS bucket, name, count(*), sum(value),
                   count(value)
            FROM outcomes
            WHERE model = ? AND ts >= make_timestamptz(?::BIGINT)
              AND ts <= make_timestamptz(?::BIGINT)
            GROUP BY bucket, name ORDER BY bucket, name
            """,
            [model, round(start * 1e6), round(end * 1e6)],
        )
        return [
            OutcomeBucket(us / 1e6, str(name), int(n), float(total or 0.0), int(valued))
            for us, name, n, total, valued in rows
        ]
