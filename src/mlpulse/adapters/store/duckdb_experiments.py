"""Per-unit totals of outcome events in DuckDB: what experiment results are built from.

Implements :class:`mlpulse.services.experiments.OutcomeSource` over the event store's
``outcomes`` table (name, value, model, version, request_id, unit_id, ts, received_at,
batch_id) through its read-only :meth:`DuckDBEventStore.query`, which runs on the
store's reader cursors and maps DuckDB's errors to ours.

No exposure table is joined: a unit's variant is a pure function of the experiment and
the unit id, which the service recomputes for each unit returned here.
"""

from __future__ import annotations

from typing import Any, Protocol


class _Query(Protocol):
    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]: ...


class DuckDBExperimentOutcomes:
    def __init__(self, store: _Query) -> None:
        self._store = store

    def unit_totals(
        self, model: str, name: str, *, start: float, end: float
    ) -> list[tuple[str, float, int]]:
        """(unit id, sum of value, count) of ``model``'s outcomes named ``name`` with a unit
        id and ``ts`` in [start, end); a null value counts as an event worth 0."""
        rows = self._store.query(
            """
            SELECT unit_id, coalesce(sum(value), 0.0), count(*)
            FROM outcomes
            WHERE name = ? AND model = ? AND unit_id IS NOT NULL
              AND ts >= make_timestamptz(?::BIGINT) AND ts < make_timestamptz(?::BIGINT)
            GROUP BY unit_id
            ORDER BY unit_id
            """,
            [name, model, round(start * 1e6), round(end * 1e6)],
        )
        return [(str(unit), float(total), int(count)) for unit, total, count in rows]
