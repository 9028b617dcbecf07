"""The rollouts service on a real SQLite store, fake outcomes, a fake registry and clock."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import pytest

from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.adapters.store.sqlite_rollouts import SQLiteRolloutStore
from mlpulse.core.experiments.rollout import RolloutPlan
from mlpulse.domain.registry import RoutingEntry, RoutingTable
from mlpulse.errors import ConflictError, InvalidInputError, NotFoundError
from mlpulse.services.incidents import IncidentService
from mlpulse.services.rollouts import Rollout, RolloutMetric, Rollouts
from mlpulse.services.runbook_actions import RunbookActions

T0 = 1_767_225_600.0
PURCHASE = RolloutMetric("purchase", "proportion", "increase")
SPEND = RolloutMetric("spend", "mean", "increase")


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


@dataclass
class FakeOutcomes:
    """Events as (ts, name, version, unit, value), summed per (version, unit) like the store."""

    events: list[tuple[float, str, str, str, float]] = field(default_factory=list)

    def version_unit_totals(
        self, model: str, name: str, versions: Sequence[str], *, start: float, end: float
    ) -> list[tuple[str, str, float, int]]:
        totals: dict[tuple[str, str], tuple[float, int]] = {}
        for ts, n, version, unit, value in self.events:
            if n == name and version in versions and start <= ts < end:
                total, count = totals.get((version, unit), (0.0, 0))
                totals[version, unit] = (total + value, count + 1)
        return [(v, u, t, c) for (v, u), (t, c) in sorted(totals.items())]


@dataclass
class FakeRegistry:
    """Stages and weights of one model's versions; every change kept with its reason."""

    entries: dict[str, RoutingEntry] = field(
        default_factory=lambda: {
            "v1": RoutingEntry("v1", "champion", 100),
            "v2": RoutingEntry("v2", "shadow", 0),
        }
    )
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, routing, reason)

    def table(self, model: str) -> RoutingTable:
        if model != "shop":
            raise NotFoundError(f"no model named {model!r}")
        champion = next((e.version for e in self.entries.values() if e.stage == "champion"), None)
        return RoutingTable(model, len(self.changes), list(self.entries.values()), T0, champion)

    def set_routing(
        self, model: str, entries: Sequence[RoutingEntry], *, actor: str, reason: str = ""
    ) -> RoutingTable:
        assert actor.startswith("rollout:")
        self.entries.update({e.version: e for e in entries})
        self.changes.append(("routing", self.routing(), reason))
        return self.table(model)

    def promote(self, model: str, version: str, *, actor: str, reason: str = "") -> RoutingTable:
        for name in self.entries:
            self.entries[name] = RoutingEntry(name, "challenger", 0)
        self.entries[version] = RoutingEntry(version, "champion", 100)
        self.changes.append(("promote", self.routing(), reason))
        return self.table(model)

    def routing(self) -> str:
        return ",".join(f"{e.version}={e.stage}:{e.weight}" for e in self.entries.values())


@dataclass
class World:
    rollouts: Rollouts
    outcomes: FakeOutcomes
    registry: FakeRegistry
    clock: Clock
    store: SQLiteRolloutStore


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = SQLiteRolloutStore(tmp_path / "rollouts.sqlite")
    outcomes, registry, clock = FakeOutcomes(), FakeRegistry(), Clock()
    yield World(Rollouts(store, outcomes, registry, clock), outcomes, registry, clock, store)
    store.close()


def _serve(world: World, rng: np.random.Generator, rates: dict[str, float], n: int) -> None:
    """``n`` new units, split by the registry's current weights, each with an exposure."""
    share = world.registry.entries["v2"].weight / 100.0
    start = len(world.outcomes.events)
    world.clock.t += 1.0
    for i in range(n):
        version = "v2" if rng.random() < share else "v1"
        unit = f"u{start}-{i}"
        world.outcomes.events.append((world.clock.t, "exposure", version, unit, 1.0))
        if rng.random() < rates[version]:
            world.outcomes.events.append((world.clock.t, "purchase", version, unit, 1.0))
            world.outcomes.events.append((world.clock.t, "spend", version, unit, 20.0))
    world.clock.t += 1.0


def _run(world: World, rates: dict[str, float], *, ticks: int = 40) -> Rollout:
    plan = RolloutPlan(min_units_per_step=300, max_units_per_step=3000)
    rollout = world.rollouts.start("shop", "v2", primary=PURCHASE, guardrails=[SPEND], plan=plan)
    rng = np.random.default_rng(3)
    for _ in range(ticks):
        _serve(world, rng, rates, 400 if rollout.share >= 25 else 12_000)
        (rollout,) = world.rollouts.tick()
        if rollout.status != "running":
            break
    return rollout


def test_rollouts_promote_a_better_challenger_after_walking_every_step(world: World) -> None:
    rollout = _run(world, {"v1": 0.10, "v2": 0.20})

    assert rollout.status == "promoted"
    actions = [e.action for e in rollout.timeline]
    assert actions[0] == "start" and actions[-1] == "promote"
    advances = [e.share for e in rollout.timeline if e.action == "advance"]
    assert advances == [1, 5, 25]
    assert rollout.timeline[-1].share == 50
    assert rollout.timeline[-1].reason.startswith("primary purchase improved: +")
    assert world.registry.entries["v2"] == RoutingEntry("v2", "champion", 100)
    routings = [routing for _, routing, _ in world.registry.changes]
    assert routings[:4] == [
        "v1=champion:99,v2=challenger:1",
        "v1=champion:95,v2=challenger:5",
        "v1=champion:75,v2=challenger:25",
        "v1=champion:50,v2=challenger:50",
    ]
    # Every routing change carries the decision's reason into the registry's history.
    assert world.registry.changes[1][2].startswith("advancing to 5%: no harm after ")
    assert world.registry.changes[-1] == ("promote", routings[-1], rollout.timeline[-1].reason)
    # Persisted: the store gives back the same rollout.
    assert world.rollouts.get(rollout.id) == rollout
    assert world.rollouts.list() == [rollout]


def test_rollouts_roll_back_a_worse_challenger_before_100_percent(world: World) -> None:
    rollout = _run(world, {"v1": 0.20, "v2": 0.05})

    assert rollout.status == "rolled_back"
    assert rollout.finished_at is not None
    last = rollout.timeline[-1]
    assert last.action == "rollback" and last.share < 100
    assert "primary purchase harmed" in last.reason
    assert all(e.action != "promote" for e in rollout.timeline)
    assert world.registry.entries == {
        "v1": RoutingEntry("v1", "champion", 100),
        "v2": RoutingEntry("v2", "archived", 0),
    }
    assert world.registry.changes[-1][2] == last.reason


def test_rollouts_keep_consecutive_holds_as_one_timeline_entry(world: World) -> None:
    plan = RolloutPlan(min_units_per_step=300)
    world.rollouts.start("shop", "v2", primary=PURCHASE, plan=plan)
    rng = np.random.default_rng(0)
    for _ in range(3):
        _serve(world, rng, {"v1": 0.1, "v2": 0.1}, 100)
        (rollout,) = world.rollouts.tick()

    assert [(e.action, e.ticks) for e in rollout.timeline] == [("start", 1), ("hold", 3)]
    assert rollout.timeline[-1].reason.startswith("holding at 1%: ")
    assert rollout.status == "running"


def test_rollouts_cancel_when_the_champion_changes_outside_the_rollout(world: World) -> None:
    started = world.rollouts.start("shop", "v2", primary=PURCHASE, plan=RolloutPlan())
    world.registry.promote("shop", "v2", actor="rollout:someone-else")

    (rollout,) = world.rollouts.tick(started.id)

    assert rollout.status == "cancelled"
    assert rollout.timeline[-1].action == "cancel"


def test_rollouts_refuse_a_second_rollout_of_a_model_and_a_champion_challenger(
    world: World,
) -> None:
    with pytest.raises(InvalidInputError, match="as champion"):
        world.rollouts.start("shop", "v1", primary=PURCHASE, plan=RolloutPlan())
    world.rollouts.start("shop", "v2", primary=PURCHASE, plan=RolloutPlan())
    with pytest.raises(InvalidInputError, match="running rollout already"):
        world.rollouts.start("shop", "v2", primary=PURCHASE, plan=RolloutPlan())
    with pytest.raises(NotFoundError):
        world.rollouts.get("nope")


@pytest.fixture
def audited(world: World, tmp_path: Path) -> Iterator[tuple[World, IncidentService]]:
    """The world's rollouts with a real incident service on SQLite: rollbacks are audited."""
    alerts = SQLiteAlertStore(tmp_path / "alerts.sqlite")
    actions = RunbookActions(routing=None, poster=None, enqueue=None)
    incidents = IncidentService(alerts, world.clock, lambda: None, actions)
    world.rollouts = Rollouts(
        world.store, world.outcomes, world.registry, world.clock, incidents=incidents
    )
    yield world, incidents
    alerts.close()


def test_rollouts_roll_back_through_an_audited_action_on_the_models_incident(
    audited: tuple[World, IncidentService],
) -> None:
    world, incidents = audited
    rollout = _run(world, {"v1": 0.20, "v2": 0.05})

    assert rollout.status == "rolled_back"
    assert world.registry.entries["v2"] == RoutingEntry("v2", "archived", 0)
    (incident,) = incidents.incidents(model="shop")
    reason = rollout.timeline[-1].reason
    assert incident.status == "mitigated"
    assert incident.timeline[1].text == f"rollout:{rollout.id}: {reason}"
    assert incident.timeline[-1].text == f"rollout:{rollout.id}: rollback ok"
    assert incident.onset_at == rollout.step_started_at  # the step that showed the harm


def test_rollouts_stay_running_when_the_audited_rollback_fails_and_retry(
    audited: tuple[World, IncidentService], monkeypatch: pytest.MonkeyPatch
) -> None:
    world, incidents = audited
    real = world.registry.set_routing

    def refuse_rollback(
        model: str, entries: Sequence[RoutingEntry], *, actor: str, reason: str = ""
    ) -> RoutingTable:
        if any(e.stage == "archived" for e in entries):
            raise RuntimeError("registry is read-only")
        return real(model, entries, actor=actor, reason=reason)

    monkeypatch.setattr(world.registry, "set_routing", refuse_rollback)
    rollout = _run(world, {"v1": 0.20, "v2": 0.05}, ticks=12)

    assert rollout.status == "running"
    failed = rollout.timeline[-1]
    assert failed.action == "rollback"
    assert failed.reason.endswith("the rollback failed: RuntimeError: registry is read-only "
                                  "[model=shop]")  # fmt: skip
    (incident,) = incidents.incidents(model="shop")
    assert incident.status == "triggered"
    assert incident.timeline[-1].text == f"rollout:{rollout.id}: rollback failed"

    monkeypatch.setattr(world.registry, "set_routing", real)
    (rollout,) = world.rollouts.tick()
    assert rollout.status == "rolled_back"
    assert incidents.incidents(model="shop")[0].status == "mitigated"


# -- validated at creation, one steering job per model, isolated ticks --------------------------


@pytest.mark.parametrize(
    ("guardrails", "field"),
    [([], "primary.max_harm"), ([SPEND, RolloutMetric("spend2", max_harm=-0.5)],
                                "guardrails[1].max_harm")],
)  # fmt: skip
def test_rollouts_refuse_a_negative_max_harm_at_creation_naming_the_field(
    world: World, guardrails: list[RolloutMetric], field: str
) -> None:
    primary = RolloutMetric("purchase", max_harm=-0.02 if not guardrails else 0.02)
    with pytest.raises(InvalidInputError, match=rf"^{re.escape(field)}: must be a finite") as exc:
        world.rollouts.start("shop", "v2", primary=primary, guardrails=guardrails,
                             plan=RolloutPlan())  # fmt: skip
    assert exc.value.field == field
    assert world.rollouts.list() == [] and world.registry.changes == []


def test_rollouts_refuse_a_model_a_bandit_steers_with_a_conflict(world: World) -> None:
    rollouts = Rollouts(world.store, world.outcomes, world.registry, world.clock,
                        busy=lambda model: f"{model!r} has a running bandit (b1)")  # fmt: skip
    with pytest.raises(ConflictError, match=r"model: 'shop' has a running bandit \(b1\)"):
        rollouts.start("shop", "v2", primary=PURCHASE, plan=RolloutPlan())
    assert world.registry.changes == []


def test_rollouts_tick_the_others_when_one_fails(world: World) -> None:
    good = world.rollouts.start("shop", "v2", primary=PURCHASE, plan=RolloutPlan())
    broken = msgspec.structs.replace(good, id="broken", model="gone", created_at=T0 - 1)
    world.store.save(broken)  # its model left the registry: its tick raises

    world.clock.t += 60
    ticked = {r.id: r for r in world.rollouts.tick()}

    assert ticked["broken"].status == "running"
    assert ticked["broken"].timeline[-1].reason.startswith("tick failed: NotFoundError")
    assert ticked[good.id].timeline[-1].action == "hold"  # decided: too few units yet
    assert "tick failed" not in ticked[good.id].timeline[-1].reason
