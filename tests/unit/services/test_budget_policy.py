"""The error budget policy: a spent budget freezes promotions and starts, never rollbacks.

Over the real SQLite registry and experiment stores and the in-memory series store; the
budget is the ``mlpulse_slo_error_budget_remaining`` point the SLO service writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlpulse.adapters.store.sqlite_experiments import SQLiteExperimentStore
from mlpulse.adapters.store.sqlite_registry import SQLiteRegistryStore
from mlpulse.adapters.store.sqlite_rollouts import SQLiteRolloutStore
from mlpulse.core.experiments.rollout import RolloutPlan
from mlpulse.domain.config_decode import decode_config
from mlpulse.domain.experiments import ExperimentSpec, MetricSpec
from mlpulse.domain.monitoring import Config
from mlpulse.domain.registry import RoutingEntry
from mlpulse.domain.series import MetricPoint
from mlpulse.services.budget_policy import BudgetPolicy, BudgetSpentError
from mlpulse.services.experiments import Experiments
from mlpulse.services.registry import Registry
from mlpulse.services.rollouts import Rollout, Rollouts
from mlpulse.services.slos import BUDGET_SERIES
from mlpulse.testing.fakes import InMemorySeriesStore
from tests.unit.services.test_rollouts_service import PURCHASE, FakeOutcomes

T0 = 1_800_000_000.0


class _Clock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> float:
        return self.t


class _NoOutcomes:
    def unit_totals(
        self, model: str, name: str, *, start: float, end: float
    ) -> list[tuple[str, float, int]]:
        return []

    def label_totals(
        self, model: str, *, kind: str, start: float, end: float
    ) -> list[tuple[str, str, float, int]]:
        return []


def _config(**slos: dict[str, Any]) -> Config:
    config, problems = decode_config({"version": 1, "slos": slos})
    assert problems == []
    return config


FROZEN = {
    "fraud-availability": {
        "model": "fraud", "objective": 0.999, "sli": {"kind": "availability"},
        "policy": {"freeze_rollouts": True},
    }
}  # fmt: skip


class _World:
    def __init__(self, tmp_path: Path, config: Config) -> None:
        self.clock = _Clock()
        self.series = InMemorySeriesStore()
        self.config = config
        self.policy = BudgetPolicy(self.series, self.clock, lambda: self.config)
        self.store = SQLiteRegistryStore(tmp_path / "registry.sqlite")
        self.registry = Registry(self.store, self.clock, guard=self.policy.check)
        for version in ("v1", "v2", "v3"):
            self.registry.register("fraud", version, f"s3://m/{version}", {}, actor="ci")

    def budget(self, value: float, *, slo: str = "fraud-availability", **labels: str) -> None:
        point = MetricPoint(
            self.clock.now(), BUDGET_SERIES, {"model": "fraud", "slo": slo, **labels}, value
        )
        self.series.append_points([point])

    def stages(self) -> dict[str, tuple[str, int]]:
        return {v.version: (v.stage, v.weight) for v in self.registry.versions("fraud")}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[_World]:
    made = _World(tmp_path, _config(**FROZEN))
    yield made
    made.store.close()


def test_budget_policy_refuses_promote_naming_the_slo_when_the_budget_is_spent(
    world: _World,
) -> None:
    world.budget(0.4)
    world.clock.t += 60
    world.budget(-0.25)  # the newest point decides
    before = world.stages()
    with pytest.raises(BudgetSpentError) as refused:
        world.registry.promote("fraud", "v2", actor="ci")
    assert refused.value.slos == ("fraud-availability",)
    assert "'fraud-availability'" in refused.value.message
    assert "-25.0% of its error budget left" in refused.value.message
    assert "promotion of v2" in refused.value.message
    assert world.stages() == before


def test_budget_policy_refuses_a_weight_increase_of_a_challenger_when_the_budget_is_spent(
    world: _World,
) -> None:
    world.budget(0.0)  # exactly spent counts as spent
    with pytest.raises(BudgetSpentError, match="more traffic to v2"):
        world.registry.set_routing(
            "fraud",
            [RoutingEntry("v1", "champion", 90), RoutingEntry("v2", "challenger", 10)],
            actor="rollout",
        )
    # A stage change without weight (shadow to challenger at 0) moves no traffic.
    world.registry.set_routing("fraud", [RoutingEntry("v2", "challenger", 0)], actor="ci")
    assert world.stages()["v2"] == ("challenger", 0)


def test_budget_policy_allows_rollback_retire_and_weight_back_to_the_champion_when_spent(
    world: _World,
) -> None:
    world.registry.set_routing(
        "fraud",
        [RoutingEntry("v1", "champion", 80), RoutingEntry("v2", "challenger", 20)],
        actor="rollout",
    )
    world.registry.promote("fraud", "v3", actor="ci")  # budget left: no point yet
    world.budget(-1.0)
    world.registry.rollback("fraud", actor="oncall")
    assert world.stages() == {
        "v1": ("champion", 100), "v2": ("challenger", 0), "v3": ("archived", 0)
    }  # fmt: skip
    world.registry.set_routing(
        "fraud",
        [RoutingEntry("v1", "champion", 100), RoutingEntry("v2", "archived", 0)],
        actor="rollout",
    )
    assert world.stages()["v2"] == ("archived", 0)


def test_budget_policy_allows_promote_when_budget_is_left(world: _World) -> None:
    world.budget(0.01)
    world.registry.promote("fraud", "v2", actor="ci")
    assert world.stages()["v2"] == ("champion", 100)


@pytest.mark.parametrize(
    ("why", "labels", "age_s"),
    [
        ("a version's own budget is not the SLO's", {"version": "v1"}, 0.0),
        ("a point older than max_age_s is stale", {}, 3601.0),
    ],
)
def test_budget_policy_allows_promote_when_no_current_slo_budget_is_spent(
    world: _World, why: str, labels: dict[str, str], age_s: float
) -> None:
    world.budget(-2.0, **labels)
    world.clock.t += age_s
    world.registry.promote("fraud", "v2", actor="ci")
    assert world.stages()["v2"] == ("champion", 100), why


def test_budget_policy_ignores_spent_slos_without_the_policy_or_of_another_model(
    world: _World,
) -> None:
    (frozen,) = FROZEN.values()
    world.config = _config(
        plain={**frozen, "policy": {"freeze_rollouts": False}},
        other={**frozen, "model": "churn"},
        bare={k: v for k, v in frozen.items() if k != "policy"},
    )
    for slo in ("plain", "other", "bare"):
        world.budget(-1.0, slo=slo)
    assert world.policy.freezes("fraud") == []
    world.registry.promote("fraud", "v2", actor="ci")


def test_budget_policy_refuses_an_experiment_start_when_the_budget_is_spent(
    world: _World, tmp_path: Path
) -> None:
    store = SQLiteExperimentStore(tmp_path / "experiments.sqlite")
    experiments = Experiments(store, _NoOutcomes(), world.clock, guard=world.policy.check)
    spec = ExperimentSpec(
        name="checkout", model="fraud", variants={"A": "v1", "B": "v2"},
        allocation={"A": 50, "B": 50}, control="A", primary=MetricSpec("conversion"),
    )  # fmt: skip
    experiments.create(spec)
    world.budget(-0.5)
    with pytest.raises(BudgetSpentError, match="experiment 'checkout' start"):
        experiments.start("checkout")
    assert experiments.get("checkout").status == "draft"
    world.budget(0.5)
    world.clock.t += 60
    world.budget(0.5)
    assert experiments.start("checkout").status == "running"
    store.close()


def test_slo_policy_decodes_and_refuses_an_unknown_field() -> None:
    config = _config(**FROZEN)
    assert config.slos["fraud-availability"].freezes_rollouts
    (frozen,) = FROZEN.values()
    _, problems = decode_config(
        {"version": 1, "slos": {"s": {**frozen, "policy": {"freeze": True}}}}
    )
    assert [(p.path, p.message) for p in problems] == [("slos.s.policy.freeze", "unknown field")]


def test_budget_policy_holds_a_running_rollout_at_its_step_while_spent(
    world: _World, tmp_path: Path
) -> None:
    store = SQLiteRolloutStore(tmp_path / "rollouts.sqlite")
    outcomes = FakeOutcomes()
    rollouts = Rollouts(store, outcomes, world.registry, world.clock)
    plan = RolloutPlan(min_units_per_step=300, max_units_per_step=3000)
    rollout = rollouts.start("fraud", "v2", primary=PURCHASE, plan=plan)  # budget left
    assert world.stages()["v2"] == ("challenger", 1)
    world.budget(-0.1)
    rng = np.random.default_rng(5)

    def serve_and_tick() -> Rollout:
        share = world.stages()["v2"][1] / 100.0
        world.clock.t += 1.0
        for i in range(12_000):
            version = "v2" if rng.random() < share else "v1"
            unit = f"u{world.clock.t}-{i}"
            outcomes.events.append((world.clock.t, "exposure", version, unit, 1.0))
            if rng.random() < 0.1:
                outcomes.events.append((world.clock.t, "purchase", version, unit, 1.0))
        world.clock.t += 1.0
        (ticked,) = rollouts.tick()
        return ticked

    for _ in range(6):  # enough units to advance, were the budget not spent
        rollout = serve_and_tick()
    assert rollout.status == "running" and rollout.step_index == 0
    assert rollout.timeline[-1].action == "hold"
    assert "'fraud-availability'" in rollout.timeline[-1].reason
    assert world.stages()["v2"] == ("challenger", 1)
    world.clock.t += 60.0
    world.budget(0.2)  # the budget recovers: the next tick advances
    rollout = serve_and_tick()
    assert rollout.step_index == 1 and world.stages()["v2"] == ("challenger", 5)
    store.close()


def test_budget_policy_refuses_a_rollout_start_when_spent(world: _World, tmp_path: Path) -> None:
    store = SQLiteRolloutStore(tmp_path / "rollouts.sqlite")
    rollouts = Rollouts(store, FakeOutcomes(), world.registry, world.clock)
    world.budget(-0.1)
    with pytest.raises(BudgetSpentError, match="more traffic to v2"):
        rollouts.start("fraud", "v2", primary=PURCHASE, plan=RolloutPlan())
    assert rollouts.list() == [] and world.stages()["v2"] == ("shadow", 0)
    store.close()
