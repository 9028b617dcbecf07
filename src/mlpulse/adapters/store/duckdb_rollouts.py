"""Per-version, per-unit totals of outcome events in DuckDB: what rollout steps compare.

Implements :class:`mlpulse.services.rollouts.VersionOutcomes` over the event store's
``outcomes`` table (name, value, model, version, request_id, unit_id, ts, ...) through
its read-only :meth:`DuckDBEventStore.query`, which maps DuckDB's errors to ours.

Unlike an experiment's, a rollout's arms are model versions, so the version logged with
each outcome says which arm a unit was in: no assignment is recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class _Query(Protocol):
    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]: ...


class DuckDBRolloutOutcomes:
    def __init__(self, store: _Query) -> None:
        self._store = store

    def version_unit_totals(
        self, model: str, name: str, versions: Sequence[str], *, start: float, end: float
    ) -> list[tuple[str, str, float, int]]:
        """(version, unit id, sum of value, count) of ``model``'s outcomes named ``name`` of
        ``versions`` with a unit id and ``ts`` in [start, end); a null value counts as 0."""
        if not versions:
            return []
        marks = ", ".join("?" for _ in versions)
        rows = self._store.query(
            f"""
            SELECT version, unit_id, coalesce(sum(value), 0.0), count(*)
            FROM outcomes
            WHERE name = ? AND model = ? AND version IN ({marks}) AND unit_id IS NOT NULL
              AND ts >= make_timestamptz(?::BIGINT) AND ts < make_timestamptz(?::BIGINT)
            GROUP BY version, unit_id
            ORDER BY version, unit_id
            """,
            [name, model, *versions, round(start * 1e6), round(end * 1e6)],
        )
        return [(str(v), str(u), float(total), int(count)) for v, u, total, count in rows]
