"""One suite over every outcome source: experiments' OutcomeSource, rollouts'
VersionOutcomes and bandits' RewardTotals, each reading the events its backend's event
store holds (DuckDB and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest

from mlpulse.adapters.store.duckdb_bandits import DuckDBBanditOutcomes
from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.duckdb_experiments import DuckDBExperimentOutcomes
from mlpulse.adapters.store.duckdb_rollouts import DuckDBRolloutOutcomes
from mlpulse.adapters.store.postgres.events import PostgresEventStore
from mlpulse.adapters.store.postgres.outcomes import (
    PostgresBanditOutcomes,
    PostgresExperimentOutcomes,
    PostgresRolloutOutcomes,
)
from mlpulse.domain.blocks import blocks_from_rows
from mlpulse.domain.events import Label, Outcome, Prediction
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.ports import EventStore, OutcomeSource, RewardTotals, VersionOutcomes
from tests.contract.conftest import postgres_database
from tests.unit.services.reward_oracle import Event, reward_totals

T = 1_767_225_600.0
VERSIONS = ["v1", "v2", "v3"]


@dataclass(frozen=True)
class Sources:
    events: EventStore
    experiments: OutcomeSource
    rollouts: VersionOutcomes
    bandits: RewardTotals


def _duckdb(tmp: Path, _: pytest.FixtureRequest) -> Sources:
    events = DuckDBEventStore(tmp / "events.duckdb")
    return Sources(events, DuckDBExperimentOutcomes(events), DuckDBRolloutOutcomes(events),
                   DuckDBBanditOutcomes(events))  # fmt: skip


def _postgres(_: Path, request: pytest.FixtureRequest) -> Sources:
    database = postgres_database(request)
    return Sources(PostgresEventStore(database), PostgresExperimentOutcomes(database),
                   PostgresRolloutOutcomes(database), PostgresBanditOutcomes(database))  # fmt: skip


SOURCES: dict[str, Callable[[Path, pytest.FixtureRequest], Sources]] = {
    "duckdb": _duckdb,
    "postgres": _postgres,
}


@pytest.fixture(params=sorted(SOURCES))
def sources(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sources]:
    made = SOURCES[request.param](tmp_path, request)
    yield made
    made.events.close()


def _send(store: EventStore, batch_id: str, **events: list[Any]) -> None:
    batch = AcceptedBatch(
        batch_id,
        T + 500,
        predictions=blocks_from_rows(events.get("predictions", [])),
        labels=events.get("labels", []),
        outcomes=events.get("outcomes", []),
    )
    store.append(batch).result(10)


def _p(request: str, version: str, prediction: Any, ts: float = T + 10) -> Prediction:
    return Prediction(model="m", version=version, request_id=request, prediction=prediction,
                      timestamp=ts)  # fmt: skip


def _exposure(request: str, unit: str) -> Outcome:
    return Outcome(name="exposure", model="m", request_id=request, unit_id=unit, timestamp=T + 10)


def test_outcome_source_joins_predictions_labels_and_units(sources: Sources) -> None:
    _send(
        sources.events, "b1",
        predictions=[
            _p("r1", "v1", "cat"), _p("r2", "v1", "dog"), _p("r3", "v1", 1),  # u1
            _p("r3", "v2", 2),  # a shadow version answering the same request
            _p("r4", "v2", 3.0),  # u2
            _p("r5", "v2", 7.5),  # u2, regression
            _p("r6", "v1", "cat", ts=T - 100),  # before the window
            _p("r7", "v1", "cat"),  # no label
            _p("r8", "v1", "cat"),  # no unit
            _p("r9", "v1", "cat"),  # two units: left out
            _p("r10", "v1", None),  # no prediction
            _p("r11", "v1", ["a", 1]),  # a ranked list, compared by its JSON text
        ],
        labels=[
            Label(model="m", request_id=r, label=v)
            for r, v in [("r1", "dog"), ("r2", "cat"), ("r3", 1.0), ("r4", 3), ("r5", 5),
                         ("r6", "cat"), ("r8", "cat"), ("r9", "cat"), ("r10", "cat"),
                         ("r11", ["a", 1])]
        ],
        outcomes=[_exposure("r1", "u1"), _exposure("r2", "u1"), _exposure("r3", "u1"),
                  _exposure("r4", "u2"), _exposure("r5", "u2"), _exposure("r6", "u1"),
                  _exposure("r7", "u1"), _exposure("r9", "u1"), _exposure("r9", "u3"),
                  _exposure("r10", "u1"), _exposure("r11", "u3"),
                  Outcome(name="purchase", model="m", request_id="r1", unit_id="u1")],
    )  # fmt: skip
    # A later label replaces the first: r1 becomes correct.
    _send(sources.events, "b2", labels=[Label(model="m", request_id="r1", label="cat")])
    outcomes = sources.experiments
    correct = outcomes.label_totals("m", kind="proportion", start=T, end=T + 60)
    # u1/v1: cat=cat yes, dog≠cat, 1 == 1.0 as numbers; u1/v2: 2 ≠ 1; u2/v2: 3 == 3, 7.5 ≠ 5.
    assert correct == [
        ("u1", "v1", 2.0, 3), ("u1", "v2", 0.0, 1), ("u2", "v2", 1.0, 2), ("u3", "v1", 1.0, 1),
    ]  # fmt: skip
    errors = outcomes.label_totals("m", kind="mean", start=T, end=T + 60)
    # Absolute errors of numeric pairs only: u1/v1 |1 - 1|, u1/v2 |2 - 1|, u2/v2 0 + 2.5.
    assert errors == [("u1", "v1", 0.0, 1), ("u1", "v2", 1.0, 1), ("u2", "v2", 2.5, 2)]
    assert outcomes.label_totals("other", kind="mean", start=T, end=T + 60) == []


def test_outcome_source_totals_outcomes_per_unit_and_per_version(sources: Sources) -> None:
    def event(name: str, version: str | None, unit: str | None, value: float, ts: float) -> Outcome:
        return Outcome(name=name, value=value, model="shop", version=version, unit_id=unit,
                       timestamp=ts)  # fmt: skip

    sources.events.append(
        AcceptedBatch(
            "o1",
            T,
            outcomes=[
                event("buy", "v1", "u2", 5.0, T + 1),
                event("buy", "v1", "u2", 2.5, T + 2),
                event("buy", "v2", "u1", 1.0, T + 3),
                event("buy", "v1", "u1", 4.0, T + 4),
                event("buy", "v2", None, 9.0, T + 5),  # no unit
                event("buy", "v1", "u3", 1.0, T + 60),  # at the end: out
                event("buy", "v1", "u3", 1.0, T - 1),  # before the start: out
                event("view", "v1", "u1", 1.0, T + 6),  # another name
                Outcome(name="buy", model="other", unit_id="u1", timestamp=T + 1),
            ],
        )
    ).result(10)
    assert sources.experiments.unit_totals("shop", "buy", start=T, end=T + 60) == [
        ("u1", 5.0, 2),
        ("u2", 7.5, 2),
    ]
    assert sources.rollouts.version_unit_totals(
        "shop", "buy", ["v1", "v2"], start=T, end=T + 60
    ) == [("v1", "u1", 4.0, 1), ("v1", "u2", 7.5, 2), ("v2", "u1", 1.0, 1)]
    assert sources.rollouts.version_unit_totals("shop", "buy", ["v2"], start=T, end=T + 60) == [
        ("v2", "u1", 1.0, 1)
    ]
    assert sources.rollouts.version_unit_totals("shop", "buy", [], start=T, end=T + 60) == []


def _events(seed: int) -> list[Event]:
    """Exposures and clicks (some clicks without an exposure, some units clicking twice)."""
    rng = np.random.default_rng(seed)
    events: list[Event] = []
    for i in range(300):
        unit, version = f"u{i % 240}", str(rng.choice(VERSIONS))  # some units on two versions
        ts = T - 100 + float(rng.uniform(0, 200))  # some before the start, some after the end
        if rng.random() < 0.9:
            events.append((ts, "exposure", version, unit, 1.0))
        for _ in range(int(rng.integers(0, 3))):
            events.append((ts, "click", version, unit, float(rng.uniform(0, 10))))
    return events


@pytest.mark.parametrize("kind", ["proportion", "mean"])
def test_outcome_source_reward_totals_match_the_python_oracle(
    sources: Sources, kind: Literal["proportion", "mean"]
) -> None:
    events = _events(3)
    noise = [
        Outcome(name="click", model="other", version="v1", unit_id="u1", timestamp=T),
        Outcome(name="click", model="shop", version="v9", unit_id="u1", timestamp=T),
        Outcome(name="click", model="shop", version="v1", timestamp=T),  # no unit id
        Outcome(name="view", model="shop", version="v1", unit_id="u1", timestamp=T),
    ]
    outcomes = [
        Outcome(name=n, value=value, model="shop", version=v, unit_id=u, timestamp=ts)
        for ts, n, v, u, value in events
    ]
    sources.events.append(AcceptedBatch("b1", T, outcomes=outcomes + noise)).result(10)
    start, end = T - 50, T + 50

    found = sources.bandits.reward_totals(
        "shop", VERSIONS, reward="click", kind=kind, exposure="exposure", start=start, end=end
    )

    expected = reward_totals(events, VERSIONS, "click", kind, "exposure", start, end)
    assert [(v, n) for v, n, _, _ in found] == [(v, n) for v, n, _, _ in expected]
    for (_, _, total, sq), (_, _, want, want_sq) in zip(found, expected, strict=True):
        assert total == pytest.approx(want) and sq == pytest.approx(want_sq)
    assert len(found) == 3 and all(n > 0 for _, n, _, _ in found)
    assert (
        sources.bandits.reward_totals(
            "shop", [], reward="click", kind=kind, exposure="exposure", start=start, end=end
        )
        == []
    )
