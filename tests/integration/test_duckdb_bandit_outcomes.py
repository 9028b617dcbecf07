"""The bandits' reward totals query against a real DuckDB file, with a Python oracle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from mlpulse.adapters.store.duckdb_bandits import DuckDBBanditOutcomes
from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.domain.events import Outcome
from mlpulse.domain.storage import AcceptedBatch
from tests.unit.services.reward_oracle import Event, reward_totals

NOW = 1_767_225_600.0
VERSIONS = ["v1", "v2", "v3"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBEventStore]:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    yield store
    store.close()


def _events(seed: int) -> list[Event]:
    """Exposures and clicks (some clicks without an exposure, some units clicking twice)."""
    rng = np.random.default_rng(seed)
    events: list[Event] = []
    for i in range(300):
        unit, version = f"u{i % 240}", str(rng.choice(VERSIONS))  # some units on two versions
        ts = NOW - 100 + float(rng.uniform(0, 200))  # some before the start, some after the end
        if rng.random() < 0.9:
            events.append((ts, "exposure", version, unit, 1.0))
        for _ in range(int(rng.integers(0, 3))):
            events.append((ts, "click", version, unit, float(rng.uniform(0, 10))))
    return events


@pytest.mark.parametrize("kind", ["proportion", "mean"])
def test_reward_totals_match_the_python_oracle(
    store: DuckDBEventStore, kind: Literal["proportion", "mean"]
) -> None:
    events = _events(3)
    noise = [
        Outcome(name="click", model="other", version="v1", unit_id="u1", timestamp=NOW),
        Outcome(name="click", model="shop", version="v9", unit_id="u1", timestamp=NOW),
        Outcome(name="click", model="shop", version="v1", timestamp=NOW),  # no unit id
        Outcome(name="view", model="shop", version="v1", unit_id="u1", timestamp=NOW),
    ]
    outcomes = [
        Outcome(name=n, value=value, model="shop", version=v, unit_id=u, timestamp=ts)
        for ts, n, v, u, value in events
    ]
    store.append(AcceptedBatch("b1", NOW, outcomes=outcomes + noise)).result(10)
    start, end = NOW - 50, NOW + 50

    found = DuckDBBanditOutcomes(store).reward_totals(
        "shop", VERSIONS, reward="click", kind=kind, exposure="exposure", start=start, end=end
    )

    expected = reward_totals(events, VERSIONS, "click", kind, "exposure", start, end)
    assert [(v, n) for v, n, _, _ in found] == [(v, n) for v, n, _, _ in expected]
    for (_, _, total, sq), (_, _, want, want_sq) in zip(found, expected, strict=True):
        assert total == pytest.approx(want) and sq == pytest.approx(want_sq)
    assert len(found) == 3 and all(n > 0 for _, n, _, _ in found)


def test_reward_totals_are_empty_without_versions_or_events(store: DuckDBEventStore) -> None:
    outcomes = DuckDBBanditOutcomes(store)

    assert (
        outcomes.reward_totals(
            "shop", [], reward="click", kind="mean", exposure="exposure", start=0, end=NOW
        )
        == []
    )
    assert (
        outcomes.reward_totals(
            "shop", VERSIONS, reward="click", kind="mean", exposure="exposure", start=0, end=NOW
        )
        == []
    )
