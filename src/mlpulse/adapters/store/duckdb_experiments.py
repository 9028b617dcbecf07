"""Per-unit totals of outcome events and of labelled predictions in DuckDB: what
experiment results are built from.

Implements :class:`mlpulse.services.experiments.OutcomeSource` over the event store's
``outcomes`` table (name, value, model, version, request_id, unit_id, ts, received_at,
batch_id), its ``labels`` table and its predictions (:mod:`.prediction_rows`), through its read-only
:meth:`DuckDBEventStore.query`, which runs on the store's reader cursors and maps
DuckDB's errors to ours.

No exposure table is joined: a unit's variant is a pure function of the experiment and
the unit id, which the service recomputes for each unit returned here.

Labelled predictions find their unit through the outcome events: predictions carry no
unit id, while an outcome carries both ``request_id`` and ``unit_id`` (the ``exposure``
event serving code logs for each request it serves). Segments and trace ids were the
other candidates; a segment is a low-cardinality slice (a unit id there would be a
guess at a key and would explode the segment series), a trace is a request, not a user.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from mlpulse.adapters.store.prediction_rows import TABLE

_NUMBER = "('BIGINT', 'UBIGINT', 'DOUBLE')"
# Per labelled prediction: 1/0 for correct (numbers compare as numbers, so 1 == 1.0;
# other values as their JSON text), or the absolute error (numbers only, else NULL).
_VALUE = {
    "proportion": f"""CASE WHEN json_type(p.prediction) IN {_NUMBER}
                            AND json_type(l.label) IN {_NUMBER}
                       THEN (p.prediction::DOUBLE = l.label::DOUBLE)::INTEGER
                       ELSE (p.prediction::VARCHAR = l.label::VARCHAR)::INTEGER END""",
    "mean": f"""CASE WHEN json_type(p.prediction) IN {_NUMBER}
                      AND json_type(l.label) IN {_NUMBER}
                 THEN abs(p.prediction::DOUBLE - l.label::DOUBLE) END""",
}


class _Store(Protocol):
    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]: ...


class DuckDBExperimentOutcomes:
    def __init__(self, store: _Store) -> None:
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

    def label_totals(
        self, model: str, *, kind: Literal["mean", "proportion"], start: float, end: float
    ) -> list[tuple[str, str, float, int]]:
        """(unit id, version, sum of value, count) of ``model``'s labelled predictions with
        ``ts`` in [start, end).

        A prediction's label is the latest of its ``request_id`` (as
        :func:`.duckdb_labels.labelled_predictions`); its unit the one ``unit_id`` of the
        model's outcomes with that ``request_id`` (a request linked to two units is left
        out). The value is per ``kind``: 1 when correct, or the absolute error.
        """
        rows = self._store.query(
            f"""
            WITH window_rows AS (
                SELECT version, request_id, prediction
                FROM {TABLE}
                WHERE model = ? AND ts >= make_timestamptz(?::BIGINT)
                  AND ts < make_timestamptz(?::BIGINT) AND prediction IS NOT NULL
            ),
            latest AS (
                SELECT request_id, arg_max(label, (received_at, rowid)) AS label
                FROM labels
                WHERE model = ? AND label IS NOT NULL
                  AND request_id IN (SELECT request_id FROM window_rows)
                GROUP BY request_id
            ),
            units AS (
                SELECT request_id, min(unit_id) AS unit_id
                FROM outcomes
                WHERE model = ? AND unit_id IS NOT NULL
                  AND request_id IN (SELECT request_id FROM window_rows)
                GROUP BY request_id
                HAVING count(DISTINCT unit_id) = 1
            ),
            scored AS (
                SELECT u.unit_id, p.version, {_VALUE[kind]} AS value
                FROM window_rows AS p
                JOIN latest AS l USING (request_id)
                JOIN units AS u USING (request_id)
            )
            SELECT unit_id, version, sum(value), count(value)
            FROM scored
            WHERE value IS NOT NULL
            GROUP BY unit_id, version
            ORDER BY unit_id, version
            """,
            [model, round(start * 1e6), round(end * 1e6), model, model],
        )
        return [(str(u), str(v), float(total), int(count)) for u, v, total, count in rows]
