"""The bandits service on real SQLite stores and the real registry, fake outcomes and clock."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import msgspec
import numpy as np
import pytest

from mlpulse.adapters.store.sqlite_bandits import SQLiteBanditStore
from mlpulse.adapters.store.sqlite_registry import SQLiteRegistryStore
from mlpulse.domain.registry import RoutingEntry
from mlpulse.errors import ConflictError, InvalidInputError, NotFoundError, StoreError
from mlpulse.services.bandits import Bandit, BanditReward, Bandits
from mlpulse.services.registry import Registry
from tests.unit.services.reward_oracle import reward_totals

T0 = 1_767_225_600.0
CLICK = BanditReward("click", "proportion")
RATES = {"v1": 0.05, "v2": 0.10, "v3": 0.25}


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


@dataclass
class FakeOutcomes:
    """Events as (ts, name, version, unit, value), totalled per version like the store."""

    events: list[tuple[float, str, str, str, float]] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # models whose reads fail

    def reward_totals(
        self, model: str, versions: Sequence[str], *, reward: str,
        kind: Literal["proportion", "mean"], exposure: str, start: float, end: float,
    ) -> list[tuple[str, int, float, float]]:  # fmt: skip
        if model in self.broken:
            raise StoreError(f"cannot read the outcomes of {model!r}")
        return reward_totals(self.events, versions, reward, kind, exposure, start, end)


@dataclass
class World:
    bandits: Bandits
    registry: Registry
    outcomes: FakeOutcomes
    clock: Clock
    busy: dict[str, str] = field(default_factory=dict)

    def weights(self) -> dict[str, tuple[str, int]]:
        return {e.version: (e.stage, e.weight) for e in self.registry.table("shop").entries}

    def serve(self, rng: np.random.Generator, n: int, rates: dict[str, float] = RATES) -> None:
        """``n`` new units split by the current weights; an exposure each, clicks at ``rates``."""
        table = self.weights()
        versions = [v for v, (stage, _) in table.items() if stage in ("champion", "challenger")]
        shares = np.array([table[v][1] for v in versions], dtype=float) / 100
        self.clock.t += 1.0
        start = len(self.outcomes.events)
        for i, version in enumerate(rng.choice(versions, size=n, p=shares)):
            unit = f"u{start}-{i}"
            self.outcomes.events.append((self.clock.t, "exposure", str(version), unit, 1.0))
            if rng.random() < rates[str(version)]:
                self.outcomes.events.append((self.clock.t, "click", str(version), unit, 1.0))
        self.clock.t += 1.0


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = SQLiteBanditStore(tmp_path / "bandits.sqlite")
    registry_store = SQLiteRegistryStore(tmp_path / "registry.sqlite")
    clock = Clock()
    registry = Registry(registry_store, clock)
    for version in ("v0", "v1", "v2", "v3"):
        registry.register("shop", version, f"s3://m/{version}", actor="test")
    busy: dict[str, str] = {}
    outcomes = FakeOutcomes()
    bandits = Bandits(store, outcomes, registry, clock, busy=busy.get)
    yield World(bandits, registry, outcomes, clock, busy)
    store.close()
    registry_store.close()


def _start(world: World, **options: object) -> Bandit:
    options = {
        "policy": "thompson",
        "reward": CLICK,
        "floor": 0.05,
        "every": "5m",
        "seed": 11,
        **options,
    }
    return world.bandits.start("shop", ["v1", "v2", "v3"], **options)  # type: ignore[arg-type]


def test_bandit_start_routes_evenly_over_its_versions_and_moves_the_old_champion_to_zero(
    world: World,
) -> None:
    bandit = _start(world)

    assert bandit.status == "running" and list(bandit.weights) == ["v1", "v2", "v3"]
    assert sorted(bandit.weights.values()) == [33, 33, 34]  # Thompson without data: even
    assert bandit.champion == "v1"  # no data: the first version (v0, the champion, is not one)
    w = bandit.weights
    assert world.weights() == {
        "v0": ("challenger", 0), "v1": ("champion", w["v1"]), "v2": ("challenger", w["v2"]),
        "v3": ("challenger", w["v3"]),
    }  # fmt: skip
    deployment = world.registry.deployments("shop")[-1]
    assert deployment.actor == f"bandit:{bandit.id}" and deployment.kind == "stage"
    assert deployment.detail["reason"].startswith(f"bandit {bandit.id} (thompson on click): ")
    assert world.bandits.get(bandit.id) == bandit
    assert world.bandits.list() == [bandit]


def test_bandit_gives_the_best_version_the_most_traffic_and_every_version_the_floor(
    world: World,
) -> None:
    bandit = _start(world)
    rng = np.random.default_rng(1)
    for _ in range(12):
        world.serve(rng, 500)
        (bandit,) = world.bandits.tick(bandit.id)

    assert bandit.champion == "v3"
    assert max(bandit.weights, key=bandit.weights.__getitem__) == "v3"
    assert bandit.weights["v3"] >= 80
    assert all(w >= 5 for w in bandit.weights.values()) and sum(bandit.weights.values()) == 100
    assert world.weights()["v3"] == ("champion", bandit.weights["v3"])
    means = {a.version: a.mean or 0.0 for a in bandit.arms}
    assert means["v3"] > means["v2"] > means["v1"]
    assert sum(a.units for a in bandit.arms) == 6000
    v3 = bandit.arms[2]
    assert v3.probability > 0.9 and v3.weight == bandit.weights["v3"]
    # Every change of weights is a deployment by the bandit, with the weights in its reason.
    changes = [d for d in world.registry.deployments("shop") if d.actor == f"bandit:{bandit.id}"]
    assert len(changes) == len(bandit.history)
    assert bandit.history[-1].weights == bandit.weights
    assert f"v3 {bandit.weights['v3']}% (" in changes[-1].detail["reason"]


def test_bandit_tick_without_new_data_keeps_the_weights_and_one_history_entry(
    world: World,
) -> None:
    bandit = _start(world)
    world.serve(np.random.default_rng(2), 600)
    (bandit,) = world.bandits.tick(bandit.id)
    deployments = len(world.registry.deployments("shop"))

    for _ in range(3):
        world.clock.t += 60.0
        (again,) = world.bandits.tick(bandit.id)

    assert again.weights == bandit.weights  # Thompson draws are seeded: same stats, same weights
    assert len(world.registry.deployments("shop")) == deployments
    assert [h.ticks for h in again.history] == [1, 4]


def test_bandits_tick_in_the_background_only_when_due(world: World) -> None:
    bandit = _start(world, every="5m")
    world.serve(np.random.default_rng(3), 600)

    world.clock.t = T0 + 299.0
    assert world.bandits.tick()[0].ticked_at == T0
    world.clock.t = T0 + 300.0
    assert world.bandits.tick()[0].ticked_at == T0 + 300.0
    assert world.bandits.get(bandit.id).ticked_at == T0 + 300.0


def test_bandit_is_cancelled_when_someone_else_changes_its_routing(world: World) -> None:
    bandit = _start(world)
    world.registry.promote("shop", "v2", actor="someone")

    (bandit,) = world.bandits.tick(bandit.id)

    assert bandit.status == "cancelled" and bandit.finished_at is not None
    assert "changed outside the bandit" in bandit.stop_reason
    assert world.weights()["v2"] == ("champion", 100)  # left alone


def test_bandit_stop_keeps_the_last_weights_and_later_ticks_change_nothing(world: World) -> None:
    bandit = _start(world)
    before = world.weights()

    stopped = world.bandits.stop(bandit.id, "enough")
    world.serve(np.random.default_rng(4), 600)
    (ticked,) = world.bandits.tick(bandit.id)

    assert stopped.status == "stopped" and stopped.stop_reason == "enough"
    assert ticked == stopped and world.bandits.stop(bandit.id) == stopped
    assert world.weights() == before


def test_bandit_on_a_mean_reward_with_ucb1_sends_most_traffic_to_the_higher_mean(
    world: World,
) -> None:
    bandit = _start(world, policy="ucb1", reward=BanditReward("revenue", "mean"), floor=0.1)
    rng = np.random.default_rng(6)
    for _ in range(3):
        world.serve(rng, 300, rates={"v1": 1.0, "v2": 1.0, "v3": 1.0})
    means = {"v1": 5.0, "v2": 9.0, "v3": 6.0}
    for ts, name, version, unit, _ in list(world.outcomes.events):
        if name == "click":
            world.outcomes.events.append((ts, "revenue", version, unit, means[version]))

    (bandit,) = world.bandits.tick(bandit.id)

    assert bandit.champion == "v2"
    assert bandit.weights == {"v1": 10, "v2": 80, "v3": 10}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"floor": 0.5}, r"floor: must be in \[0, 1/len\(versions\)\] = \[0, 0\.3333\]; got 0\.5"),
        ({"floor": -0.1}, "floor: must be in"),
        ({"policy": "softmax"}, "policy: must be one of thompson, ucb1, epsilon_greedy"),
        ({"policy": "linucb"}, "LinUCB is contextual"),
        ({"every": "soon"}, "every must be a duration"),
        ({"reward": BanditReward("exposure")}, "reward.name: must differ from the exposure"),
    ],
)
def test_bandit_start_refuses_bad_parameters_naming_the_field(
    world: World, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        _start(world, **options)
    assert world.bandits.list() == []


def test_bandit_start_refuses_unknown_versions_too_few_versions_and_unknown_models(
    world: World,
) -> None:
    with pytest.raises(InvalidInputError, match=r"versions\[1\]: no version 'v9' of 'shop'"):
        world.bandits.start("shop", ["v1", "v9"], policy="ucb1", reward=CLICK)
    with pytest.raises(InvalidInputError, match="versions: must list at least 2 distinct"):
        world.bandits.start("shop", ["v1", "v1"], policy="ucb1", reward=CLICK)
    with pytest.raises(NotFoundError, match="no model named 'nope'"):
        world.bandits.start("nope", ["v1", "v2"], policy="ucb1", reward=CLICK)
    with pytest.raises(NotFoundError, match="no bandit with id 'missing'"):
        world.bandits.get("missing")


def test_bandit_start_refuses_a_model_with_a_running_bandit_or_a_busy_model(
    world: World,
) -> None:
    first = _start(world)
    with pytest.raises(ConflictError, match=f"running bandit already \\({first.id}\\)"):
        _start(world)
    world.bandits.stop(first.id)
    world.busy["shop"] = "'shop' has a running rollout (r1)"
    with pytest.raises(ConflictError, match=r"model: 'shop' has a running rollout \(r1\)"):
        _start(world)


def test_background_tick_goes_on_past_a_bandit_that_fails(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    bandit = world.bandits.start("shop", ["v1", "v2"], policy="ucb1", reward=CLICK, every="1m")
    world.registry.register("other", "a", "s3://m/a", actor="test")
    world.registry.register("other", "b", "s3://m/b", actor="test")
    other = world.bandits.start("other", ["a", "b"], policy="ucb1", reward=CLICK, every="1m")
    world.outcomes.broken.add("shop")
    world.clock.t += 120.0

    done = {b.id: b for b in world.bandits.tick()}

    assert done[other.id].ticked_at == world.clock.t
    assert done[bandit.id] == world.bandits.get(bandit.id) == bandit
    assert f"bandit {bandit.id} of shop failed to tick" in caplog.text


def test_bandit_is_cancelled_when_a_version_is_missing_from_the_registry(world: World) -> None:
    bandit = _start(world)
    store: SQLiteBanditStore = world.bandits._store  # type: ignore[assignment]
    store.save(msgspec.structs.replace(bandit, versions=["v1", "v2", "v3", "v9"]))

    (cancelled,) = world.bandits.tick(bandit.id)

    assert cancelled.status == "cancelled" and "v9=unregistered" in cancelled.stop_reason


def test_registry_entries_stay_valid_after_every_tick(world: World) -> None:
    bandit = _start(world, policy="epsilon_greedy", floor=0.0)
    rng = np.random.default_rng(8)
    for _ in range(4):
        world.serve(rng, 300)
        (bandit,) = world.bandits.tick(bandit.id)
        serving = [w for stage, w in world.weights().values() if stage != "shadow"]
        assert sum(serving) == 100
    assert world.weights()["v0"] == ("challenger", 0)
    assert (
        RoutingEntry("v3", "champion", bandit.weights["v3"]) in world.registry.table("shop").entries
    )
