"""The per-version reward totals a bandit allocates from, computed plainly in Python.

The fake outcomes of the bandits service tests, and the oracle the DuckDB query is
checked against (``tests/integration/test_duckdb_bandit_outcomes.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

Event = tuple[float, str, str, str, float]  # (ts, name, version, unit id, value)


def reward_totals(
    events: Iterable[Event], versions: Sequence[str], reward: str,
    kind: Literal["proportion", "mean"], exposure: str, start: float, end: float,
) -> list[tuple[str, int, float, float]]:  # fmt: skip
    units: dict[str, dict[str, list[float]]] = {}  # version -> unit -> reward values
    for ts, name, version, unit, value in events:
        if name in (reward, exposure) and version in versions and start <= ts < end:
            values = units.setdefault(version, {}).setdefault(unit, [])
            if name == reward:
                values.append(value)
    rows = []
    for version in sorted(units):
        per_unit = [
            (1.0 if values else 0.0) if kind == "proportion" else sum(values)
            for values in units[version].values()
        ]
        rows.append((version, len(per_unit), sum(per_unit), sum(r * r for r in per_unit)))
    return rows
