"""Paging exactly once: the real alert engine, SQLite outbox and worker, and the real
PagerDuty / Opsgenie notifiers posting to a local receiver (a fake clock drives time)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from mlpulse.adapters.notify import build_notifier
from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.domain.alerts import AlertState
from mlpulse.domain.monitoring import Config
from mlpulse.domain.rules import ReceiverConfig, RouteConfig, RuleConfig, UserConfig
from mlpulse.domain.series import MetricPoint
from mlpulse.ports import Notifier
from mlpulse.services.alert_engine import AlertEngine
from mlpulse.services.alertmanager import alerts_from_alertmanager
from mlpulse.services.outbox_worker import OutboxWorker
from mlpulse.testing.fakes import InMemorySeriesStore
from tests.integration.receivers import HttpReceiver, Reply

T0 = 1_767_225_600.0

LATENCY = RuleConfig(
    kind="threshold", series="mlpulse_latency_p99", op=">", value=1.0, for_="2m",
    severity="critical", annotations={"summary": "{{ $labels.model }} is slow"},
)  # fmt: skip


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


def _config(receiver_url: str, **extra: Any) -> Config:
    receivers = {
        "pd": ReceiverConfig(kind="pagerduty", settings={"routing_key": "R" * 32,
                                                         "events_url": receiver_url + "/pd"}),
        "og": ReceiverConfig(kind="opsgenie", settings={"api_key": "k",
                                                        "api_url": receiver_url + "/og"}),
        "ana-pd": ReceiverConfig(kind="pagerduty", settings={"routing_key": "A" * 32,
                                                             "events_url": receiver_url + "/ana"}),
    }  # fmt: skip
    route = extra.pop("route", RouteConfig(receiver="pd", group_wait="30s", group_interval="5m",
                                           repeat_interval="4h"))  # fmt: skip
    return Config(version=1, rules={"slow": LATENCY}, receivers=receivers, route=route, **extra)


@dataclass
class World:
    clock: Clock
    series: InMemorySeriesStore
    store: SQLiteAlertStore
    engine: AlertEngine
    worker: OutboxWorker
    receiver: HttpReceiver
    config: Config
    worker_notifiers: dict[str, Notifier]

    value: float | None = None

    def point(self, value: float) -> None:
        """The series' value from now on (a point every step, as a live monitor writes)."""
        self.value = value
        self.series.append_points(
            [MetricPoint(self.clock.t, "mlpulse_latency_p99", {"model": "fraud"}, value)]
        )

    def run(self, seconds: float, step: float = 10.0) -> None:
        end = self.clock.t + seconds
        while self.clock.t < end:
            self.clock.t += step
            if self.value is not None:
                self.point(self.value)
            self.engine.tick()
            self.worker.run_once()

    def events(self, path: str) -> list[dict[str, Any]]:
        return [r.json() for r in self.receiver.requests if r.path.startswith(path)]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with HttpReceiver(default=Reply(202, {"status": "success"})) as receiver:
        clock, series = Clock(), InMemorySeriesStore()
        store = SQLiteAlertStore(tmp_path / "alerts.sqlite")
        config = _config(receiver.url)
        engine = AlertEngine(series=series, store=store, clock=clock, config=lambda: w.config)
        notifiers = {
            name: build_notifier(r.kind, dict(r.settings)) for name, r in config.receivers.items()
        }
        worker = OutboxWorker(store, notifiers, clock, rng=random.Random(1))
        w = World(clock, series, store, engine, worker, receiver, config, notifiers)
        yield w
        store.close()


def _pd_actions(world: World, path: str = "/pd") -> list[tuple[str, str]]:
    return [(e["event_action"], e["dedup_key"]) for e in world.events(path)]


def test_resolve_reaches_pagerduty_when_the_alert_goes_pending_again_before_the_next_send(
    world: World,
) -> None:
    world.config = _config(
        world.receiver.url,
        route=RouteConfig(
            receiver="pd", group_wait="30s", group_interval="15m", repeat_interval="4h"
        ),
    )
    world.point(3.0)
    world.run(180)  # for: 2m, then group_wait 30 s
    assert [a for a, _ in _pd_actions(world)] == ["trigger"]
    world.point(0.2)
    world.run(310)  # resolved after keep_firing_for (5 minutes), before the group's next send
    assert [a for a, _ in _pd_actions(world)] == ["trigger"]
    world.point(3.0)
    world.run(20)  # the condition is back: pending again, not firing (for: 2m)
    world.point(0.2)
    world.run(900)  # and clears for good before it fires; the group sends next
    (alert,) = world.engine.alerts()
    assert alert.state == AlertState.RESOLVED
    actions = _pd_actions(world)
    assert [a for a, _ in actions] == ["trigger", "resolve"]
    assert len({key for _, key in actions}) == 1  # the resolve closes the incident it opened


def test_group_dedup_key_survives_adding_and_reordering_routes(world: World) -> None:
    world.point(3.0)
    world.run(180)
    world.config = _config(
        world.receiver.url,
        route=RouteConfig(
            receiver="pd", group_wait="30s", group_interval="5m", repeat_interval="4h",
            routes=[RouteConfig(match={"model": "recs"}, receiver="og"),
                    RouteConfig(match={"model": "fraud"}, receiver="pd")],
        ),
    )  # fmt: skip
    world.run(60)
    world.point(0.2)
    world.run(400)
    actions = _pd_actions(world)
    assert [a for a, _ in actions] == ["trigger", "resolve"]
    assert actions[0][1] == actions[1][1]  # no orphaned incident


def test_acknowledge_reaches_pagerduty_and_opsgenie_at_once(world: World) -> None:
    world.config = _config(
        world.receiver.url,
        route=RouteConfig(receiver="pd", group_wait="30s", repeat_interval="4h", routes=[
            RouteConfig(receiver="pd", continue_=True), RouteConfig(receiver="og")]),
    )  # fmt: skip
    world.point(3.0)
    world.run(180)
    (alert,) = world.engine.alerts()
    world.engine.acknowledge(alert.fingerprint, by="ana")
    world.worker.run_once()  # no tick, no reminder: the acknowledgement is queued by itself
    assert [a for a, _ in _pd_actions(world)] == ["trigger", "acknowledge"]
    og = [r for r in world.receiver.requests if r.path.startswith("/og")]
    assert [r.path for r in og] == [
        "/og/v2/alerts",
        f"/og/v2/alerts/{og[0].json()['alias']}/acknowledge",
    ]
    assert og[1].query == {"identifierType": ["alias"]} and og[1].json()["user"] == "ana"


def _escalating(world: World, *, repeat: int = 1) -> None:
    world.config = _config(
        world.receiver.url,
        users={"ana": UserConfig(receiver="ana-pd")},
        escalation_policies={"critical": {"repeat": repeat, "repeat_delay_minutes": 10,
                                          "steps": [{"delay_minutes": 0,
                                                     "targets": ["user:ana"]}]}},
        route=RouteConfig(receiver="pd", group_wait="30s", escalation_policy="critical"),
    )  # fmt: skip


def test_escalation_repeat_pages_are_new_incidents_and_all_are_resolved(world: World) -> None:
    _escalating(world)
    world.point(3.0)
    world.run(150)  # fires at 2 minutes: ana is paged
    world.run(600)  # the policy repeats after 10 minutes: ana is paged again
    pages = _pd_actions(world, "/ana")
    assert [a for a, _ in pages] == ["trigger", "trigger"]
    assert pages[0][1] != pages[1][1]  # a repeat is not dropped as a duplicate
    world.point(0.2)
    world.run(400)  # keep_firing_for (5 minutes by default), then resolved
    pages = _pd_actions(world, "/ana")
    assert sorted(pages[2:]) == sorted(("resolve", key) for _, key in pages[:2])


def test_second_firing_after_a_resolve_is_paged_again(world: World) -> None:
    _escalating(world, repeat=0)
    world.point(3.0)
    world.run(150)
    world.point(0.2)
    world.run(400)
    world.point(3.0)
    world.run(200)
    actions = [a for a, _ in _pd_actions(world, "/ana")]
    assert actions == ["trigger", "resolve", "trigger"]
    assert [a for a, _ in _pd_actions(world)] == ["trigger", "resolve", "trigger"]


def test_acknowledging_stops_escalation_and_acknowledges_the_pages_sent(world: World) -> None:
    _escalating(world, repeat=3)
    world.point(3.0)
    world.run(150)
    (alert,) = world.engine.alerts()
    world.engine.acknowledge(alert.fingerprint, by="ana")
    world.worker.run_once()
    pages = _pd_actions(world, "/ana")
    assert [a for a, _ in pages] == ["trigger", "acknowledge"] and pages[0][1] == pages[1][1]
    world.run(3600)  # no repeats after the acknowledgement
    assert [a for a, _ in _pd_actions(world, "/ana")] == ["trigger", "acknowledge"]


def test_acknowledgement_of_an_alertmanager_alert_survives_its_group_being_resent(
    world: World,
) -> None:
    payload = {"alerts": [{"status": "firing", "labels": {"alertname": "HighLoad",
                                                          "severity": "critical"}}]}  # fmt: skip
    world.engine.external(alerts_from_alertmanager(payload, now=world.clock.t))
    world.run(60)
    (alert,) = world.engine.alerts()
    world.engine.acknowledge(alert.fingerprint, by="ana")
    world.clock.t += 300  # Alertmanager's group_interval: the same group again
    world.engine.external(alerts_from_alertmanager(payload, now=world.clock.t))
    (alert,) = world.engine.alerts()
    assert alert.acknowledged_by == "ana" and alert.state == AlertState.FIRING


def test_notifications_link_back_to_the_model_page_under_the_external_url(
    world: World,
) -> None:
    base = "https://mlpulse.example.com"
    world.engine = AlertEngine(series=world.series, store=world.store, clock=world.clock,
                               config=lambda: world.config, external_url=base)  # fmt: skip
    url = world.receiver.url
    extra = {
        "hook": ReceiverConfig(kind="webhook", settings={"url": url + "/hook"}),
        "chat": ReceiverConfig(kind="slack", settings={"url": url + "/chat"}),
    }
    world.config = _config(
        url,
        route=RouteConfig(
            receiver="pd",
            group_wait="0s",
            routes=[
                RouteConfig(receiver=name, continue_=True) for name in ("pd", "og", "hook", "chat")
            ],
        ),
    )
    world.config = msgspec.structs.replace(
        world.config,
        receivers={**world.config.receivers, **extra},
        users={"ana": UserConfig(receiver="ana-pd")},
        escalation_policies={"critical": {"steps": [{"delay_minutes": 0,
                                                     "targets": ["user:ana"]}]}},
        route=msgspec.structs.replace(world.config.route, escalation_policy="critical"),
    )  # fmt: skip
    notifiers = {n: build_notifier(r.kind, dict(r.settings)) for n, r in extra.items()}
    world.worker.set_notifiers({**world.worker_notifiers, **notifiers})
    world.point(3.0)
    world.run(150)
    page = f"{base}/models/fraud"
    (pd,) = world.events("/pd")
    assert pd["client_url"] == page and pd["links"][0] == {"href": page, "text": "Open in mlpulse"}
    (og,) = world.events("/og")
    assert og["details"]["url"] == page and og["description"].endswith(page)
    (hook,) = world.events("/hook")
    assert hook["externalURL"] == base and hook["alerts"][0]["generatorURL"] == page
    (chat,) = world.events("/chat")
    assert f"<{page}|Open in mlpulse>" in json.dumps(chat["blocks"][-1], ensure_ascii=False)
    (ana,) = world.events("/ana")  # the escalation page links back too
    assert ana["client_url"] == page


def test_escalation_page_sent_before_a_restart_is_resolved_after_it(
    world: World,
) -> None:
    _escalating(world, repeat=0)
    world.point(3.0)
    world.run(150)
    assert [a for a, _ in _pd_actions(world, "/ana")] == ["trigger"]
    world.point(0.2)
    world.run(200)  # still firing (keep_firing_for: 5 minutes) as the collector stops
    world.store.close()
    world.store = SQLiteAlertStore(world.store.path)
    world.engine = AlertEngine(series=world.series, store=world.store, clock=world.clock,
                               config=lambda: world.config)  # fmt: skip
    world.worker = OutboxWorker(world.store, world.worker_notifiers, world.clock)
    world.run(400)  # keep_firing_for counts again from the restart; the page is not resent
    pages = _pd_actions(world, "/ana")
    assert [a for a, _ in pages] == ["trigger", "resolve"] and pages[0][1] == pages[1][1]
