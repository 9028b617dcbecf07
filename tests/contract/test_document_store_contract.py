"""One suite over every ExperimentStore, RolloutStore and BanditStore: SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import msgspec
import pytest

from mlpulse.adapters.store.postgres.documents import (
    PostgresBanditStore,
    PostgresExperimentStore,
    PostgresRolloutStore,
)
from mlpulse.adapters.store.sqlite_bandits import SQLiteBanditStore
from mlpulse.adapters.store.sqlite_experiments import SQLiteExperimentStore
from mlpulse.adapters.store.sqlite_rollouts import SQLiteRolloutStore
from mlpulse.domain.bandits import Allocation, ArmView, Bandit, BanditReward
from mlpulse.domain.experiments import ExperimentSpec, MetricSpec
from mlpulse.domain.rollouts import PlanView, Rollout, RolloutMetric, TimelineEntry
from mlpulse.errors import InvalidInputError
from mlpulse.ports import BanditStore, ExperimentStore, RolloutStore
from tests.contract.conftest import postgres_database

T = 1_767_225_600.0
Make = Callable[[Path, pytest.FixtureRequest], Any]

EXPERIMENT_STORES: dict[str, Make] = {
    "sqlite": lambda tmp, _: SQLiteExperimentStore(tmp / "experiments.sqlite"),
    "postgres": lambda _, request: PostgresExperimentStore(postgres_database(request)),
}
ROLLOUT_STORES: dict[str, Make] = {
    "sqlite": lambda tmp, _: SQLiteRolloutStore(tmp / "rollouts.sqlite"),
    "postgres": lambda _, request: PostgresRolloutStore(postgres_database(request)),
}
BANDIT_STORES: dict[str, Make] = {
    "sqlite": lambda tmp, _: SQLiteBanditStore(tmp / "bandits.sqlite"),
    "postgres": lambda _, request: PostgresBanditStore(postgres_database(request)),
}


def _made(stores: dict[str, Make], request: pytest.FixtureRequest, tmp: Path) -> Iterator[Any]:
    store = stores[request.param](tmp, request)
    yield store
    store.close()


@pytest.fixture(params=sorted(EXPERIMENT_STORES))
def experiments(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ExperimentStore]:
    yield from _made(EXPERIMENT_STORES, request, tmp_path)


@pytest.fixture(params=sorted(ROLLOUT_STORES))
def rollouts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RolloutStore]:
    yield from _made(ROLLOUT_STORES, request, tmp_path)


@pytest.fixture(params=sorted(BANDIT_STORES))
def bandits(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BanditStore]:
    yield from _made(BANDIT_STORES, request, tmp_path)


def _spec(name: str, created_at: float) -> ExperimentSpec:
    return ExperimentSpec(
        name=name, model="shop", variants={"A": "v1", "B": "v2"}, allocation={"A": 1, "B": 1},
        control="A", primary=MetricSpec("purchase"), created_at=created_at,
        alpha=0.1 + 1e-17, description="the last digit of a float survives",
    )  # fmt: skip


def test_experiment_store_refuses_a_taken_name_and_lists_oldest_first(
    experiments: ExperimentStore,
) -> None:
    experiments.insert(_spec("b", T + 1))
    experiments.insert(_spec("a", T + 1))
    experiments.insert(_spec("c", T))
    with pytest.raises(InvalidInputError, match="exists already") as taken:
        experiments.insert(_spec("a", T + 5))
    assert taken.value.field == "name"
    assert [s.name for s in experiments.list()] == ["c", "a", "b"]
    running = msgspec.structs.replace(_spec("a", T + 1), status="running", started_at=T + 2)
    experiments.update(running)
    assert experiments.get("a") == running
    assert experiments.get("missing") is None


def _rollout(
    id: str, created_at: float, status: Literal["running", "promoted"] = "running"
) -> Rollout:
    return Rollout(
        id=id, model="fraud", champion="v1", challenger="v2",
        primary=RolloutMetric("conversion"), guardrails=[RolloutMetric("latency", kind="mean")],
        plan=PlanView([1, 5, 25, 50, 100], 100, None, 0.05), exposure="exposure",
        status=status, step_index=0, step_started_at=created_at,
        created_at=created_at,
        timeline=[TimelineEntry(created_at, "start", 1, 0, "started")],
    )  # fmt: skip


def test_rollout_store_replaces_by_id_and_lists_oldest_first(rollouts: RolloutStore) -> None:
    rollouts.save(_rollout("r2", T + 1))
    rollouts.save(_rollout("r1", T))
    rollouts.save(_rollout("r2", T + 1, "promoted"))
    assert rollouts.list() == [_rollout("r1", T), _rollout("r2", T + 1, "promoted")]
    assert rollouts.get("r2") == _rollout("r2", T + 1, "promoted")
    assert rollouts.get("nope") is None


def _bandit(id: str, created_at: float, weights: dict[str, int]) -> Bandit:
    return Bandit(
        id=id, model="recs", versions=["v1", "v2"], policy="thompson",
        reward=BanditReward("click"), floor=0.05, every="5m", exposure="exposure", seed=7,
        status="running", champion="v1", weights=weights, created_at=created_at,
        ticked_at=created_at, arms=[ArmView("v1", 10, 3.0, 0.3, 0.6, 60)],
        history=[Allocation(created_at, weights, "v1", 10, "tick")],
    )  # fmt: skip


def test_bandit_store_replaces_by_id_and_lists_oldest_first(bandits: BanditStore) -> None:
    bandits.save(_bandit("b2", T, {"v1": 50, "v2": 50}))
    bandits.save(_bandit("b1", T, {"v1": 50, "v2": 50}))
    bandits.save(_bandit("b2", T, {"v1": 30, "v2": 70}))
    assert bandits.list() == [
        _bandit("b1", T, {"v1": 50, "v2": 50}),
        _bandit("b2", T, {"v1": 30, "v2": 70}),
    ]
    assert bandits.get("b2") == _bandit("b2", T, {"v1": 30, "v2": 70})
    assert bandits.get("b3") is None
