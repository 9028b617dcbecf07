"""Totals of outcome events and labelled predictions on PostgreSQL: what experiments,
rollouts and bandits decide from.

One class per protocol, with the SQL of the DuckDB adapters translated:
:class:`PostgresExperimentOutcomes` (:class:`mlpulse.ports.OutcomeSource`,
as :mod:`mlpulse.adapters.store.duckdb_experiments`), :class:`PostgresRolloutOutcomes`
(:class:`mlpulse.ports.VersionOutcomes`, as ``duckdb_rollouts``) and
:class:`PostgresBanditOutcomes` (:class:`mlpulse.ports.RewardTotals`, as
``duckdb_bandits``), and :class:`PostgresTraffic` (:class:`mlpulse.ports.TrafficSource`,
as ``duckdb_traffic``: the event store's version summaries, outcomes per bucket).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal, Protocol

from mlpulse.adapters.store.postgres.database import Database, Row, at, micros
from mlpulse.adapters.store.postgres.labels import LATEST_LABELS
from mlpulse.domain.models import VersionSummary
from mlpulse.domain.series import OutcomeBucket

NAME: Final = "event store"
_BOTH_NUMBERS: Final = "json_typeof(p.prediction) = 'number' AND json_typeof(l.label) = 'number'"
_AS_NUMBER: Final = "(({}::jsonb) #>> '{{}}')::double precision"
# Per labelled prediction: 1/0 for correct (numbers compare as numbers, so 1 == 1.0;
# other values by their JSON text), or the absolute error (numbers only, else NULL).
_VALUE: Final = {
    "proportion": f"""CASE WHEN {_BOTH_NUMBERS}
                       THEN ({_AS_NUMBER.format("p.prediction")}
                             = {_AS_NUMBER.format("l.label")})::integer
                       ELSE (p.prediction::text = l.label::text)::integer END""",
    "mean": f"""CASE WHEN {_BOTH_NUMBERS}
                 THEN abs({_AS_NUMBER.format("p.prediction")}
                          - {_AS_NUMBER.format("l.label")}) END""",
}


class _Outcomes:
    def __init__(self, database: Database) -> None:
        self._db = database

    def _rows(self, action: str, sql: str, params: Any) -> list[Row]:
        return self._db.rows(NAME, action, sql, params)


class PostgresExperimentOutcomes(_Outcomes):
    def unit_totals(
        self, model: str, name: str, *, start: float, end: float
    ) -> list[tuple[str, float, int]]:
        """(unit id, sum of value, count) of ``model``'s outcomes named ``name`` with a unit
        id and ``ts`` in [start, end); a null value counts as an event worth 0."""
        rows = self._rows(
            "total outcomes per unit",
            """
            SELECT unit_id, coalesce(sum(value), 0.0), count(*)
            FROM outcomes
            WHERE name = %s AND model = %s AND unit_id IS NOT NULL AND ts >= %s AND ts < %s
            GROUP BY unit_id
            ORDER BY unit_id
            """,
            (name, model, at(start), at(end)),
        )
        return [(str(unit), float(total), int(count)) for unit, total, count in rows]

    def label_totals(
        self, model: str, *, kind: Literal["mean", "proportion"], start: float, end: float
    ) -> list[tuple[str, str, float, int]]:
        """(unit id, version, sum of value, count) of ``model``'s labelled predictions with
        ``ts`` in [start, end): each prediction's latest label, its unit the one
        ``unit_id`` of the model's outcomes with its ``request_id``."""
        rows = self._rows(
            "total labelled predictions per unit",
            f"""
            WITH window_rows AS (
                SELECT version, request_id, prediction
                FROM predictions
                WHERE model = %(model)s AND ts >= %(start)s AND ts < %(end)s
                  AND prediction IS NOT NULL
            ),
            latest AS ({LATEST_LABELS}),
            units AS (
                SELECT request_id, min(unit_id) AS unit_id
                FROM outcomes
                WHERE model = %(model)s AND unit_id IS NOT NULL
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
            {"model": model, "start": at(start), "end": at(end)},
        )
        return [(str(u), str(v), float(total), int(count)) for u, v, total, count in rows]


class PostgresRolloutOutcomes(_Outcomes):
    def version_unit_totals(
        self, model: str, name: str, versions: Sequence[str], *, start: float, end: float
    ) -> list[tuple[str, str, float, int]]:
        """(version, unit id, sum of value, count) of ``model``'s outcomes named ``name`` of
        ``versions`` with a unit id and ``ts`` in [start, end); a null value counts as 0."""
        if not versions:
            return []
        rows = self._rows(
            "total outcomes per version and unit",
            """
            SELECT version, unit_id, coalesce(sum(value), 0.0), count(*)
            FROM outcomes
            WHERE name = %s AND model = %s AND version = ANY(%s) AND unit_id IS NOT NULL
              AND ts >= %s AND ts < %s
            GROUP BY version, unit_id
            ORDER BY version, unit_id
            """,
            (name, model, list(versions), at(start), at(end)),
        )
        return [(str(v), str(u), float(total), int(count)) for v, u, total, count in rows]


class PostgresBanditOutcomes(_Outcomes):
    def reward_totals(
        self,
        model: str,
        versions: Sequence[str],
        *,
        reward: str,
        kind: Literal["proportion", "mean"],
        exposure: str,
        start: float,
        end: float,
    ) -> list[tuple[str, int, float, float]]:
        """(version, units, sum, sum of squares) of the per-unit rewards of ``versions``,
        as :meth:`.DuckDBBanditOutcomes.reward_totals`."""
        if not versions:
            return []
        per_unit = (
            "CASE WHEN count(*) FILTER (WHERE name = %(reward)s) > 0 THEN 1.0 ELSE 0.0 END"
            if kind == "proportion"
            else "coalesce(sum(coalesce(value, 0.0)) FILTER (WHERE name = %(reward)s), 0.0)"
        )
        rows = self._rows(
            "total rewards per version",
            f"""
            SELECT version, count(*), sum(reward), sum(reward * reward)
            FROM (
                SELECT version, unit_id, {per_unit} AS reward
                FROM outcomes
                WHERE name IN (%(reward)s, %(exposure)s) AND model = %(model)s
                  AND version = ANY(%(versions)s) AND unit_id IS NOT NULL
                  AND ts >= %(start)s AND ts < %(end)s
                GROUP BY version, unit_id
            ) AS units
            GROUP BY version
            ORDER BY version
            """,
            {
                "reward": reward,
                "exposure": exposure,
                "model": model,
                "versions": list(versions),
                "start": at(start),
                "end": at(end),
            },
        )
        return [(str(v), int(n), float(s), float(sq)) for v, n, s, sq in rows]


class _Summaries(Protocol):
    def version_summaries(
        self, model: str, *, start: float, end: float
    ) -> list[VersionSummary]: ...


class PostgresTraffic(_Outcomes):
    """Traffic per version (the event store's :meth:`version_summaries`) and business
    outcomes per bucket."""

    def __init__(self, database: Database, events: _Summaries) -> None:
        super().__init__(database)
        self._events = events

    def version_summaries(self, model: str, *, start: float, end: float) -> list[VersionSummary]:
        return self._events.version_summaries(model, start=start, end=end)

    def outcome_models(self) -> list[str]:
        rows = self._rows(
            "list the models with outcomes",
            "SELECT DISTINCT model FROM outcomes WHERE model IS NOT NULL ORDER BY model",
            (),
        )
        return [str(model) for (model,) in rows]

    def outcome_buckets(
        self, model: str, *, start: float, end: float, bucket_s: float
    ) -> list[OutcomeBucket]:
        """Per (bucket, name) of ``model``'s outcomes with ``ts`` in [start, end]: events,
        the sum of their values (0.0 when none has one) and how many carry one."""
        step = max(1, round(bucket_s * 1e6))
        rows = self._rows(
            "bucket outcomes",
            f"""
            SELECT ({micros("ts")} / {step}) * {step} AS bucket, name, count(*), sum(value),
                   count(value)
            FROM outcomes
            WHERE model = %s AND ts >= %s AND ts <= %s
            GROUP BY bucket, name ORDER BY bucket, name
            """,
            (model, at(start), at(end)),
        )
        return [
            OutcomeBucket(us / 1e6, str(name), int(n), float(total or 0.0), int(valued))
            for us, name, n, total, valued in rows
        ]
