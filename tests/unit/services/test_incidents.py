"""Incidents and runbooks on a real SQLite store, a fake registry and a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.domain.alerts import Alert, AlertState, Severity
from mlpulse.domain.incidents import ActionConfig, ConfirmConfig, RunbookConfig
from mlpulse.domain.monitoring import Config
from mlpulse.domain.registry import Deployment
from mlpulse.services.incidents import IncidentService
from mlpulse.services.postmortem import postmortem
from mlpulse.services.runbook_actions import RunbookActions

T0 = 1_767_225_600.0


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


@dataclass
class FakeRegistry:
    versions: list[str] = field(default_factory=lambda: ["v1", "v2", "v3"])  # oldest first
    champion: str = "v3"
    weights: dict[str, int] = field(default_factory=dict)  # challengers' shares
    archived: set[str] = field(default_factory=set)
    rollbacks: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)

    def serving(self, model: str) -> dict[str, tuple[str, int]]:
        rest = 100 - sum(self.weights.values())
        return {
            v: ("champion", rest) if v == self.champion else ("challenger", self.weights.get(v, 0))
            for v in self.versions if v not in self.archived
        }  # fmt: skip

    def rollback(
        self, model: str, *, actor: str, to_version: str | None = None,
        healthy: Callable[[str], bool] = lambda v: True, reason: str = "", dry_run: bool = False,
    ) -> str:  # fmt: skip
        candidates = [v for v in reversed(self.versions)
                      if v != self.champion and v not in self.archived and healthy(v)]  # fmt: skip
        if not candidates:
            raise RuntimeError("no healthy version to roll back to")
        target = to_version or candidates[0]
        if dry_run:
            return f"set routing of {model} to {target}=champion:100"
        self.archived.add(self.champion)
        self.champion, self.weights = target, {}
        self.rollbacks.append(self.champion)
        return self.champion

    def retire(
        self, model: str, version: str, *, actor: str, reason: str = "", dry_run: bool = False
    ) -> str:
        if not dry_run:
            self.archived.add(version)
            self.weights.pop(version, None)
            self.retired.append(version)
        return f"{version} archived"

    def shift_traffic(
        self, model: str, weights: Mapping[str, int], *, actor: str, dry_run: bool = False
    ) -> None:
        pass

    def open_circuit(self, model: str, version: str, *, actor: str, dry_run: bool = False) -> None:
        pass


def _alert(n: int, *, version: str = "v3", state: AlertState = AlertState.FIRING,
           severity: Severity = Severity.CRITICAL, at: float = T0) -> Alert:  # fmt: skip
    return Alert(
        fingerprint=f"fp{n}", rule="errors", severity=severity, state=state,
        labels={"alertname": "errors", "model": "recs", "version": version,
                "severity": severity.value},
        annotations={}, value=0.3, active_since=at - 30, starts_at=at,
        ends_at=None if state == AlertState.FIRING else at + 600, updated_at=at,
    )  # fmt: skip


@dataclass
class World:
    clock: Clock
    store: SQLiteAlertStore
    registry: FakeRegistry
    config: Config
    service: IncidentService


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock, registry = Clock(), FakeRegistry()
    store = SQLiteAlertStore(tmp_path / "alerts.sqlite")
    config = Config(version=1, runbooks={"rollback-on-errors": RunbookConfig(
        match={"alertname": "errors", "severity": "critical"},
        actions=[ActionConfig(kind="rollback")], cooldown="10m", max_per_hour=3,
        confirm=ConfirmConfig(failures=1))})  # fmt: skip
    actions = RunbookActions(routing=registry, poster=None, enqueue=None)
    service = IncidentService(store, clock, lambda: w.config, actions)
    w = World(clock, store, registry, config, service)
    yield w
    store.close()


def test_a_critical_alert_opens_an_incident_the_runbook_rolls_back_and_it_resolves(
    world: World,
) -> None:
    world.service.on_alerts([_alert(1)], T0)
    (incident,) = world.service.incidents()
    assert incident.status == "mitigated" and world.registry.rollbacks == ["v2"]
    assert incident.times["time_to_detect"] == 30.0
    assert incident.times["time_to_recover"] == 30.0
    world.clock.t = T0 + 60
    world.service.on_alerts([_alert(2, at=T0 + 60)], T0 + 60)  # joins the open incident
    (incident,) = world.service.incidents()
    assert incident.alerts == ["fp1", "fp2"]
    world.service.on_alerts([_alert(1, state=AlertState.RESOLVED),
                             _alert(2, state=AlertState.RESOLVED)], T0 + 700)  # fmt: skip
    (incident,) = world.service.incidents()
    assert incident.status == "resolved" and incident.resolved_at == T0 + 700
    kinds = [e.kind for e in incident.timeline]
    assert kinds.count("alert") == 4 and "action" in kinds


def test_a_second_failure_inside_the_cooldown_does_not_roll_back_again(world: World) -> None:
    world.service.on_alerts([_alert(1)], T0)
    world.service.on_alerts([_alert(3, version="v2", at=T0 + 120)], T0 + 120)
    assert world.registry.rollbacks == ["v2"]  # no loop: the second one is in cooldown
    outcomes = [(o.status, o.detail.split(":")[0]) for o in world.store.actions()]
    assert outcomes == [("ok", "rolled recs back"), ("skipped", "cooldown")]


def test_rollback_never_picks_a_version_that_is_itself_unhealthy(world: World) -> None:
    sick = _alert(9, version="v2")  # v2 has a critical alert of its own
    world.service.on_alerts([_alert(1), sick], T0)
    assert world.registry.rollbacks == ["v1"]


def test_dry_run_and_approval_record_without_acting(world: World) -> None:
    base = world.config.runbooks["rollback-on-errors"]
    dry = RunbookConfig(match=base.match, actions=base.actions, dry_run=True,
                        confirm=base.confirm)  # fmt: skip
    ask = RunbookConfig(match=base.match, actions=base.actions, require_approval=True,
                        confirm=base.confirm)  # fmt: skip
    world.config = Config(version=1, runbooks={"dry": dry, "ask": ask})
    world.service.on_alerts([_alert(1)], T0)
    assert world.registry.rollbacks == []
    assert sorted(o.status for o in world.store.actions()) == ["awaiting_approval", "dry_run"]


def test_the_postmortem_has_the_timeline_numbers_and_hints(world: World) -> None:
    world.service.on_alerts([_alert(1)], T0)
    world.service.acknowledge(world.service.incidents()[0].id, by="ana")
    world.service.on_alerts([_alert(1, state=AlertState.RESOLVED)], T0 + 600)
    (incident,) = world.service.incidents()
    text = postmortem(
        incident, deployments=[Deployment("recs", "v3", T0 - 900, "promote", {}, "ci")],
        actions=world.store.actions(),
    )  # fmt: skip
    assert text.startswith("# Post-mortem: errors (recs/v3)")
    assert "| time to recover (onset → mitigated) | 30.0 s |" in text
    assert "Deployment 14.5 min before the onset: promote recs v3 by ci" in text
    assert "rollback — ok" in text and "acknowledged by ana" in text


def test_similar_incidents_rank_same_model_and_shared_signals_first(world: World) -> None:
    world.config = Config(version=1)
    world.service.on_alerts([_alert(1)], T0)
    world.service.on_alerts([_alert(1, state=AlertState.RESOLVED)], T0 + 600)
    world.service.on_alerts([_alert(2, at=T0 + 7200)], T0 + 7200)
    other = Alert(
        fingerprint="x", rule="latency", severity=Severity.CRITICAL, state=AlertState.FIRING,
        labels={"alertname": "latency", "model": "ads", "severity": "critical"},
        annotations={}, value=1.0, active_since=T0, starts_at=T0, updated_at=T0,
    )  # fmt: skip
    world.service.on_alerts([_alert(2, at=T0 + 7200), other], T0 + 7300)
    latest = next(i for i in world.service.incidents(model="recs") if i.status != "resolved")
    ranked = world.service.similar(latest.id)
    assert [i.model for i, _ in ranked] == ["recs"]  # the other model shares no signal
    assert ranked[0][1] == 2.0


def test_an_action_that_needs_approval_runs_once_a_person_approves(world: World) -> None:
    base = world.config.runbooks["rollback-on-errors"]
    world.config = Config(version=1, runbooks={"ask": RunbookConfig(
        match=base.match, actions=base.actions, require_approval=True,
        confirm=base.confirm)})  # fmt: skip
    world.service.on_alerts([_alert(1)], T0)
    assert world.registry.rollbacks == []
    (pending,) = world.service.approvals()
    outcome = world.service.approve(pending.id, by="ana", firing=[_alert(1)])
    assert outcome.status == "ok" and "approved by ana" in outcome.detail
    assert world.registry.rollbacks == ["v2"] and world.service.approvals() == []
    (incident,) = world.service.incidents()
    assert incident.status == "mitigated"


def test_a_runbook_can_pause_an_experiment(world: World) -> None:
    paused: list[tuple[str, str]] = []
    actions = RunbookActions(
        routing=world.registry, poster=None, enqueue=None,
        pause=lambda name, reason: paused.append((name, reason)),
    )  # fmt: skip
    service = IncidentService(world.store, world.clock, lambda: config, actions)
    config = Config(version=1, runbooks={"stop-ab": RunbookConfig(
        match={"alertname": "errors"},
        actions=[ActionConfig(kind="pause_experiment", experiment="ranker-ab")],
        confirm=ConfirmConfig(failures=1))})  # fmt: skip
    service.on_alerts([_alert(1)], T0)
    assert paused == [("ranker-ab", "paused by runbook on alert errors")]


# -- actions decided by other services (a rollout's rollback) -----------------------------------


def _rolled_back() -> str:
    return "recs: champion v3 back to 100%, challenger v4 archived"


def test_run_automatic_action_opens_an_incident_with_the_reason_and_audits_the_action(
    world: World,
) -> None:
    world.clock.t = T0 + 120
    outcome = world.service.run_automatic_action(
        "recs", source="rollout:abc", title="rollout abc rolled back v4 (recs)",
        action="rollback", reason="primary ctr harmed: -8%", run=_rolled_back, onset_at=T0,
    )  # fmt: skip

    assert (outcome.runbook, outcome.action, outcome.status) == ("rollout:abc", "rollback", "ok")
    (incident,) = world.service.incidents()
    assert outcome.incident == incident.id
    assert (incident.status, incident.severity, incident.title) == (
        "mitigated", "warning", "rollout abc rolled back v4 (recs)")  # fmt: skip
    assert incident.times["time_to_recover"] == 120.0  # from the onset the rollout gave
    assert [(e.kind, e.text) for e in incident.timeline] == [
        ("status", "incident opened by rollout:abc"),
        ("status", "rollout:abc: primary ctr harmed: -8%"),
        ("action", "rollout:abc: rollback ok"),
    ]
    assert world.store.actions(since=0.0, runbook="rollout:abc") == [outcome]
    # No alert to wait for: an alert tick does not resolve it, a person does.
    world.service.on_alerts([], T0 + 180)
    assert world.service.incidents()[0].status == "mitigated"


def test_run_automatic_action_joins_the_open_incident_and_records_a_failure(
    world: World,
) -> None:
    world.config = Config(version=1)  # no runbook: the alert only opens the incident
    world.service.on_alerts([_alert(1)], T0)

    def broken() -> str:
        raise RuntimeError("registry unreachable")

    outcome = world.service.run_automatic_action(
        "recs", source="rollout:abc", title="unused", action="rollback", reason="harm",
        run=broken,
    )  # fmt: skip

    assert (outcome.status, outcome.detail) == (
        "failed", "RuntimeError: registry unreachable [model=recs]")  # fmt: skip
    (incident,) = world.service.incidents()
    assert incident.alerts == ["fp1"] and incident.status == "triggered"
    assert incident.timeline[-1].text == "rollout:abc: rollback failed"
