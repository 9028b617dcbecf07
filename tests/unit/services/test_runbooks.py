"""Runbooks acting on the real registry: which version they take out, confirmation,
dry runs and approvals (persisted, expiring, rejectable, re-checked)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.adapters.store.sqlite_registry import SQLiteRegistryStore
from mlpulse.domain.alerts import Alert, AlertState, Severity
from mlpulse.domain.incidents import ActionConfig, ConfirmConfig, RunbookConfig
from mlpulse.domain.monitoring import Config
from mlpulse.domain.registry import RoutingEntry
from mlpulse.domain.rules import RuleConfig
from mlpulse.domain.series import MetricPoint
from mlpulse.errors import ConflictError
from mlpulse.server.registry_control import RegistryControl
from mlpulse.services.incidents import IncidentService
from mlpulse.services.registry import Registry
from mlpulse.services.runbook_actions import RunbookActions
from mlpulse.testing.fakes import InMemorySeriesStore

T0 = 1_767_225_600.0
ROLLBACK = [ActionConfig(kind="rollback")]


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


def _alert(
    fp: str = "fp1", *, version: str | None = "v2", at: float = T0, rule: str = "errors",
    state: AlertState = AlertState.FIRING,
) -> Alert:  # fmt: skip
    labels = {"alertname": rule, "model": "recs", "severity": "critical"}
    if version is not None:
        labels["version"] = version
    return Alert(
        fingerprint=fp, rule=rule, severity=Severity.CRITICAL, state=state, labels=labels,
        annotations={}, value=0.3, active_since=at - 30, starts_at=at, updated_at=at,
        ends_at=None if state == AlertState.FIRING else at,
    )  # fmt: skip


@dataclass
class World:
    clock: Clock
    alerts: SQLiteAlertStore
    registry: Registry
    config: Config
    path: Path

    def service(self) -> IncidentService:
        actions = RunbookActions(routing=RegistryControl(self.registry), poster=None,
                                 enqueue=None)  # fmt: skip
        return IncidentService(self.alerts, self.clock, lambda: self.config, actions)

    def runbook(self, **fields: object) -> None:
        fields.setdefault("actions", ROLLBACK)
        fields.setdefault("confirm", ConfirmConfig(failures=1))
        self.config = Config(version=1, runbooks={
            "act": RunbookConfig(match={"alertname": "errors"}, **fields)})  # type: ignore[arg-type]  # fmt: skip

    def table(self) -> dict[str, tuple[str, int]]:
        return {e.version: (e.stage, e.weight) for e in self.registry.table("recs").entries}

    def outcomes(self) -> list[tuple[str, str]]:
        return [(o.status, o.detail) for o in self.alerts.actions()]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """recs: v1 was champion, v2 is champion now, v3 a 10% canary."""
    clock = Clock()
    registry_store = SQLiteRegistryStore(tmp_path / "registry.sqlite")
    registry = Registry(registry_store, clock)
    for version in ("v1", "v2", "v3"):
        registry.register("recs", version, f"s3://recs/{version}", actor="ci")
    registry.promote("recs", "v2", actor="ci")
    registry.set_routing("recs", [RoutingEntry("v2", "champion", 90),
                                  RoutingEntry("v3", "challenger", 10)], actor="ci")  # fmt: skip
    alerts = SQLiteAlertStore(tmp_path / "alerts.sqlite")
    w = World(clock, alerts, registry, Config(version=1), tmp_path)
    w.runbook()
    yield w
    alerts.close()
    registry_store.close()


# -- which version is taken out ------------------------------------------------------------


def test_runbook_takes_a_failing_canary_out_and_leaves_the_champion_untouched(
    world: World,
) -> None:
    service = world.service()
    service.on_alerts([_alert(version="v3")], T0)

    assert world.table() == {"v2": ("champion", 100), "v1": ("challenger", 0)}
    assert world.registry.versions("recs")[2].stage == "archived"  # v3, kept to restore
    assert not [d for d in world.registry.deployments("recs") if d.kind == "rollback"]
    ((status, detail),) = world.outcomes()
    assert status == "ok" and detail.startswith("took recs/v3 out of traffic")
    (incident,) = service.incidents()
    assert incident.status == "mitigated"


def test_runbook_rolls_the_champion_back_only_when_the_champion_failed(world: World) -> None:
    world.service().on_alerts([_alert(version="v2")], T0)

    assert world.table() == {"v1": ("champion", 100), "v3": ("challenger", 0)}
    assert world.registry.deployments("recs")[-1].kind == "rollback"


def test_runbook_without_a_version_label_skips_when_several_versions_serve(
    world: World,
) -> None:
    world.service().on_alerts([_alert(version=None)], T0)

    assert world.table() == {"v1": ("challenger", 0), "v2": ("champion", 90),
                             "v3": ("challenger", 10)}  # fmt: skip
    ((status, detail),) = world.outcomes()
    assert status == "skipped" and "serves v2 and v3: the failing version is unknown" in detail


def test_runbook_without_a_version_label_rolls_back_a_champion_serving_alone(
    world: World,
) -> None:
    world.registry.set_routing("recs", [RoutingEntry("v2", "champion", 100),
                                        RoutingEntry("v3", "shadow", 0)], actor="ci")  # fmt: skip
    world.service().on_alerts([_alert(version=None)], T0)

    assert world.table()["v1"] == ("champion", 100)


def test_runbook_skips_a_version_that_no_longer_serves(world: World) -> None:
    world.registry.retire("recs", "v3", actor="ci")
    world.service().on_alerts([_alert(version="v3")], T0)

    assert world.outcomes() == [("skipped", "recs/v3 is not in the routing table any more "
                                            "[model=recs]")]  # fmt: skip


# -- confirmation --------------------------------------------------------------------------


def test_runbook_acts_only_after_the_confirming_evaluations(world: World) -> None:
    world.runbook(confirm=ConfirmConfig(failures=3, interval="10s"))
    service = world.service()
    for t in (T0, T0 + 5, T0 + 10):  # T0 + 5 is too soon to count: 2 of 3 by T0 + 10
        service.on_alerts([_alert(version="v3")], t)
    assert world.table()["v3"] == ("challenger", 10) and world.outcomes() == []

    service.on_alerts([_alert(version="v3")], T0 + 20)

    assert "v3" not in world.table()


def test_runbook_never_acts_on_a_firing_that_ends_before_it_is_confirmed(world: World) -> None:
    world.runbook(confirm=ConfirmConfig(failures=2, interval="10s"))
    service = world.service()
    service.on_alerts([_alert(version="v3")], T0)
    service.on_alerts([_alert(version="v3", state=AlertState.RESOLVED)], T0 + 5)
    service.on_alerts([_alert(version="v3", at=T0 + 12)], T0 + 12)  # a new firing: 1 of 2

    assert world.table()["v3"] == ("challenger", 10) and world.outcomes() == []


# -- dry runs ------------------------------------------------------------------------------


def test_dry_run_records_the_exact_routing_change_and_changes_nothing(world: World) -> None:
    world.runbook(dry_run=True)
    world.service().on_alerts([_alert(version="v3")], T0)

    assert world.table()["v3"] == ("challenger", 10)
    assert world.outcomes() == [(
        "dry_run",
        "would take recs/v3 out of traffic: set routing of recs to v1=challenger:0, "
        "v2=champion:100 [model=recs]",
    )]  # fmt: skip


# -- approvals -----------------------------------------------------------------------------


def test_approval_survives_a_restart_and_runs_once_approved(world: World) -> None:
    world.runbook(require_approval=True)
    world.service().on_alerts([_alert(version="v3")], T0)

    restarted = world.service()  # a new process on the same store
    (pending,) = restarted.approvals()
    assert (pending.runbook, pending.model, pending.expires_at) == ("act", "recs", T0 + 3600)
    outcome = restarted.approve(pending.id, by="ana", firing=[_alert(version="v3")])

    assert outcome.status == "ok" and "approved by ana" in outcome.detail
    assert "v3" not in world.table() and restarted.approvals() == []


def test_approval_expires_after_an_hour_and_is_then_refused(world: World) -> None:
    world.runbook(require_approval=True)
    service = world.service()
    service.on_alerts([_alert(version="v3")], T0)
    (pending,) = service.approvals()

    world.clock.t = T0 + 3600
    assert service.approvals() == []
    with pytest.raises(ConflictError, match="is expired"):
        service.approve(pending.id, by="ana")
    assert world.table()["v3"] == ("challenger", 10)


def test_a_rejected_approval_never_runs(world: World) -> None:
    world.runbook(require_approval=True)
    service = world.service()
    service.on_alerts([_alert(version="v3")], T0)
    (pending,) = service.approvals()

    rejected = service.reject(pending.id, by="ana", reason="a known blip")

    assert (rejected.status, rejected.decided_by) == ("rejected", "ana")
    with pytest.raises(ConflictError, match="is rejected by ana"):
        service.approve(pending.id, by="bo")
    assert world.table()["v3"] == ("challenger", 10)
    why = f"approval {pending.id} rejected by ana: a known blip [model=recs]"
    assert world.outcomes()[-1] == ("rejected", why)


def test_a_second_stale_approval_is_refused_inside_the_cooldown(world: World) -> None:
    world.runbook(require_approval=True)
    service = world.service()
    service.on_alerts([_alert("fp-canary", version="v3"), _alert("fp-champion", version="v2")],
                      T0)  # fmt: skip
    by_fp = {a.alert.fingerprint: a for a in service.approvals()}
    first, second = by_fp["fp-champion"], by_fp["fp-canary"]
    service.approve(first.id, by="ana")  # the champion v2 is rolled back to v1
    assert world.table()["v1"] == ("champion", 100)

    world.clock.t = T0 + 60
    with pytest.raises(ConflictError, match="cooldown: last action 60 s ago"):
        service.approve(second.id, by="bo")

    assert world.table()["v1"] == ("champion", 100)
    rollbacks = [d for d in world.registry.deployments("recs") if d.kind == "rollback"]
    assert len(rollbacks) == 1
    assert world.alerts.approvals(status="refused")[0].id == second.id


def test_an_approval_for_a_version_that_stopped_serving_is_refused(world: World) -> None:
    world.config = Config(version=1, runbooks={
        name: RunbookConfig(match={"alertname": "errors"}, actions=ROLLBACK,
                            require_approval=True, confirm=ConfirmConfig(failures=1))
        for name in ("errors-a", "errors-b")
    })  # fmt: skip
    service = world.service()
    service.on_alerts([_alert(version="v3")], T0)
    first, second = service.approvals()
    service.approve(first.id, by="ana")

    with pytest.raises(ConflictError, match="recs/v3 is not serving any more"):
        service.approve(second.id, by="bo")


# -- onset ---------------------------------------------------------------------------------


def test_incident_onset_is_where_the_threshold_was_crossed_not_the_alert(world: World) -> None:
    series = InMemorySeriesStore()
    labels = {"model": "recs", "version": "v3"}
    series.append_points([
        MetricPoint(T0 - 300 + 60 * i, "mlpulse_error_rate", labels, v)
        for i, v in enumerate([0.01, 0.02, 0.3, 0.4, 0.5, 0.5])
    ])  # fmt: skip
    rule = RuleConfig(kind="threshold", series="mlpulse_error_rate", op=">", value=0.1,
                      severity="critical", for_="2m")  # fmt: skip
    world.config = Config(version=1, rules={"errors": rule})
    service = IncidentService(world.alerts, world.clock, lambda: world.config,
                              RunbookActions(routing=None, poster=None, enqueue=None),
                              series=series)  # fmt: skip
    service.on_alerts([_alert(version="v3", at=T0)], T0)  # active since T0 - 30

    (incident,) = service.incidents()
    assert (incident.onset_at, incident.onset_method) == (T0 - 210, "crossing")
    assert incident.times["time_to_detect"] == 210.0


def test_incident_onset_of_a_detection_without_an_estimate_says_so(world: World) -> None:
    rule = RuleConfig(kind="detection", series="mlpulse_stream_change", severity="critical")
    world.config = Config(version=1, rules={"errors": rule})
    alert = msgspec.structs.replace(_alert(version="v3"), value=0.0)
    world.service().on_alerts([alert], T0)

    (incident,) = world.service().incidents()
    assert (incident.onset_at, incident.onset_method) == (T0 - 30, "alert")


def test_incident_onset_of_a_relative_rule_is_the_series_change_point(world: World) -> None:
    series = InMemorySeriesStore()
    labels = {"model": "recs", "version": "v3"}
    values = [100.0, 104.0, 98.0, 101.0, 99.0, 103.0, 250.0, 260.0, 255.0, 248.0]
    series.append_points([MetricPoint(T0 - 540 + 60 * i, "mlpulse_latency_seconds", labels, v)
                          for i, v in enumerate(values)])  # fmt: skip
    rule = RuleConfig(kind="relative", series="mlpulse_latency_seconds", op=">", ratio=2.0,
                      severity="critical")  # fmt: skip
    world.config = Config(version=1, rules={"errors": rule})
    service = IncidentService(world.alerts, world.clock, lambda: world.config,
                              RunbookActions(routing=None, poster=None, enqueue=None),
                              series=series)  # fmt: skip
    service.on_alerts([_alert(version="v3", at=T0)], T0)

    (incident,) = service.incidents()
    assert (incident.onset_at, incident.onset_method) == (T0 - 210, "cusum")
