"""Acknowledging an incident acknowledges its firing alerts: PagerDuty and Opsgenie hear
of it at once and escalation stops. The real alert engine, incident service, SQLite
store and outbox worker, the real notifiers posting to a local receiver; a fake clock."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlpulse.adapters.notify import build_notifier
from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.domain.monitoring import Config
from mlpulse.domain.rules import ReceiverConfig, RouteConfig, RuleConfig, UserConfig
from mlpulse.domain.series import MetricPoint
from mlpulse.services.alert_engine import AlertEngine
from mlpulse.services.incidents import IncidentService
from mlpulse.services.outbox_worker import OutboxWorker
from mlpulse.services.runbook_actions import RunbookActions
from mlpulse.testing.fakes import InMemorySeriesStore
from tests.integration.receivers import HttpReceiver, Reply

T0 = 1_767_225_600.0


def _rule(series: str) -> RuleConfig:
    return RuleConfig(kind="threshold", series=series, op=">", value=1.0, for_="1m",
                      severity="critical")  # fmt: skip


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


@dataclass
class World:
    clock: Clock
    series: InMemorySeriesStore
    engine: AlertEngine
    incidents: IncidentService
    worker: OutboxWorker
    receiver: HttpReceiver

    def run(self, seconds: float, *, values: dict[str, float], step: float = 10.0) -> None:
        """Write each series' value every step (a live monitor), tick, deliver."""
        end = self.clock.t + seconds
        while self.clock.t < end:
            self.clock.t += step
            self.series.append_points([
                MetricPoint(self.clock.t, name, {"model": "fraud"}, value)
                for name, value in values.items()
            ])  # fmt: skip
            self.engine.tick()
            self.worker.run_once()

    def sent(self, path: str) -> list[tuple[str, Any]]:
        """(what, key) of each event posted under ``path``: PagerDuty's action and dedup
        key, or Opsgenie's request path and alias."""
        found: list[tuple[str, Any]] = []
        for r in self.receiver.requests:
            if not r.path.startswith(path):
                continue
            if path == "/og":
                found.append((r.path.removeprefix("/og/v2/alerts"), r.json().get("alias")))
            else:
                found.append((r.json()["event_action"], r.json()["dedup_key"]))
        return found


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with HttpReceiver(default=Reply(202, {"status": "success"})) as receiver:
        url = receiver.url
        receivers = {
            "pd": ReceiverConfig(kind="pagerduty", settings={"routing_key": "R" * 32,
                                                             "events_url": url + "/pd"}),
            "og": ReceiverConfig(kind="opsgenie", settings={"api_key": "k",
                                                            "api_url": url + "/og"}),
            "ana-pd": ReceiverConfig(kind="pagerduty", settings={"routing_key": "A" * 32,
                                                                 "events_url": url + "/ana"}),
        }  # fmt: skip
        config = Config(
            version=1,
            rules={"slow": _rule("mlpulse_latency_p99"), "failing": _rule("mlpulse_error_rate")},
            receivers=receivers,
            users={"ana": UserConfig(receiver="ana-pd")},
            escalation_policies={"critical": {"repeat": 3, "repeat_delay_minutes": 10,
                                              "steps": [{"delay_minutes": 0,
                                                         "targets": ["user:ana"]}]}},
            # One group per alert (grouped by its name), to PagerDuty and to Opsgenie.
            route=RouteConfig(receiver="pd", group_by=["alertname"], group_wait="30s",
                              repeat_interval="4h", escalation_policy="critical", routes=[
                                  RouteConfig(receiver="pd", continue_=True),
                                  RouteConfig(receiver="og")]),
        )  # fmt: skip
        clock, series = Clock(), InMemorySeriesStore()
        store = SQLiteAlertStore(tmp_path / "alerts.sqlite")
        engine = AlertEngine(series=series, store=store, clock=clock, config=lambda: config)
        actions = RunbookActions(routing=None, poster=None, enqueue=None)
        incidents = IncidentService(store, clock, lambda: config, actions, series=series)
        engine.on_alerts = incidents.on_alerts
        notifiers = {n: build_notifier(r.kind, dict(r.settings)) for n, r in receivers.items()}
        worker = OutboxWorker(store, notifiers, clock, rng=random.Random(1))
        yield World(clock, series, engine, incidents, worker, receiver)
        store.close()


def test_acknowledging_an_incident_acknowledges_its_alerts_in_pagerduty_and_opsgenie_at_once(
    world: World,
) -> None:
    world.run(150, values={"mlpulse_latency_p99": 3.0, "mlpulse_error_rate": 3.0})
    (incident,) = world.incidents.incidents()
    assert len(incident.alerts) == 2  # both alerts of the model's one incident
    triggers = world.sent("/pd")
    assert sorted(a for a, _ in triggers) == ["trigger", "trigger"]

    acknowledged = world.incidents.acknowledge(incident.id, by="ana", alerts=world.engine)
    world.worker.run_once()  # no tick, no reminder: the acknowledgements are queued by then

    assert acknowledged.status == "acknowledged" and acknowledged.commander == "ana"
    assert acknowledged.timeline[-1].text == "acknowledged by ana with its 2 firing alerts"
    assert {a.acknowledged_by for a in world.engine.alerts()} == {"ana"}
    acks = [(a, key) for a, key in world.sent("/pd") if a == "acknowledge"]
    assert sorted(acks) == sorted(("acknowledge", key) for _, key in triggers)
    og = world.sent("/og")
    created = [alias for path, alias in og if path == ""]
    assert len(created) == 2
    assert sorted(path for path, _ in og if path != "") == sorted(
        f"/{alias}/acknowledge" for alias in created
    )
    pages = world.sent("/ana")  # the escalation's own pages are acknowledged too
    assert sorted(a for a, _ in pages) == ["acknowledge"] * 2 + ["trigger"] * 2

    world.run(3600, values={"mlpulse_latency_p99": 3.0, "mlpulse_error_rate": 3.0})
    assert len(world.sent("/ana")) == 4  # escalation stopped: no repeat page
    assert len(world.sent("/pd")) == 4 and len(world.sent("/og")) == 4  # nothing sent twice


def test_acknowledging_an_incident_again_sends_nothing_more(world: World) -> None:
    world.run(150, values={"mlpulse_latency_p99": 3.0, "mlpulse_error_rate": 3.0})
    (incident,) = world.incidents.incidents()
    world.incidents.acknowledge(incident.id, by="ana", alerts=world.engine)
    world.worker.run_once()
    sent = len(world.receiver.requests)
    again = world.incidents.acknowledge(incident.id, by="bo", alerts=world.engine)
    world.worker.run_once()
    assert len(world.receiver.requests) == sent
    assert again.commander == "ana" and again.timeline[-1].text == "acknowledged by bo"
