"""Per-version reward totals of outcome events in DuckDB: what a bandit tick allocates from.

Implements :class:`mlpulse.services.bandits.RewardTotals` over the event store's
``outcomes`` table through its read-only :meth:`DuckDBEventStore.query`, which maps
DuckDB's errors to ours.

Rollouts fetch one row per (version, unit) (:mod:`.duckdb_rollouts`); a bandit sums
from its start, so its units only grow: here DuckDB groups by unit and then by version,
and one row per version comes back, however many units there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol


class _Query(Protocol):
    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]: ...


class DuckDBBanditOutcomes:
    def __init__(self, store: _Query) -> None:
        self._store = store

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
        """(version, units, sum, sum of squares) of the per-unit rewards of ``versions``.

        Units are the unit ids with a ``reward`` or ``exposure`` outcome of the version
        with ``ts`` in [start, end). A unit's reward is 1 when it has a ``reward`` event
        and 0 otherwise (``proportion``), or the sum of its ``reward`` values (``mean``; a
        null value counts as 0). Versions without units are left out.
        """
        if not versions:
            return []
        marks = ", ".join("?" for _ in versions)
        per_unit = (
            "CASE WHEN count(*) FILTER (WHERE name = ?) > 0 THEN 1.0 ELSE 0.0 END"
            if kind == "proportion"
            else "coalesce(sum(coalesce(value, 0.0)) FILTER (WHERE name = ?), 0.0)"
        )
        rows = self._store.query(
            f"""
            SELECT version, count(*), sum(reward), sum(reward * reward)
            FROM (
                SELECT version, unit_id, {per_unit} AS reward
                FROM outcomes
                WHERE name IN (?, ?) AND model = ? AND version IN ({marks})
                  AND unit_id IS NOT NULL
                  AND ts >= make_timestamptz(?::BIGINT) AND ts < make_timestamptz(?::BIGINT)
                GROUP BY version, unit_id
            )
            GROUP BY version
            ORDER BY version
            """,
            [reward, reward, exposure, model, *versions, round(start * 1e6), round(end * 1e6)],
        )
        return [(str(v), int(n), float(s), float(sq)) for v, n, s, sq in rows]
