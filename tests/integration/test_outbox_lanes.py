"""The outbox worker's lanes, recovery and dead letters, against real local receivers."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from mlpulse.adapters.clock import SystemClock
from mlpulse.adapters.notify import build_notifier
from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.domain.alerts import Alert, AlertState, Notification, Severity
from mlpulse.domain.monitoring import Config
from mlpulse.domain.rules import ReceiverConfig, RouteConfig
from mlpulse.domain.rules_validation import alerting_problems
from mlpulse.server.metrics import DeliverySeries
from mlpulse.services.outbox_worker import OutboxWorker
from tests.integration.receivers import HttpReceiver, Reply

T0 = 1_767_225_600.0


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


def _notification(n: int, receiver: str, *, at: float = T0) -> Notification:
    alert = Alert(
        fingerprint=f"fp{n}", rule="slow", severity=Severity.CRITICAL, state=AlertState.FIRING,
        labels={"alertname": "slow", "model": f"m{n}"}, annotations={"summary": "slow"},
        value=3.0, active_since=at, starts_at=at, updated_at=at,
    )  # fmt: skip
    return Notification(
        id=f"{receiver}-{n}", receiver=receiver, dedup_key=f"group-{n}", status="firing",
        severity=Severity.CRITICAL, group_labels={"model": f"m{n}"}, common_labels=alert.labels,
        alerts=[alert], title=f"slow (model=m{n})", created_at=at,
    )  # fmt: skip


def test_pagerduty_triggers_leave_within_two_seconds_behind_thirty_queued_slack_groups(
    tmp_path: Path,
) -> None:
    with HttpReceiver(default=Reply(202)) as receiver:
        store = SQLiteAlertStore(tmp_path / "alerts.sqlite")
        notifiers = {
            "slack": build_notifier("slack", {"url": receiver.url + "/slack"}),  # 1 a second
            "pd": build_notifier(
                "pagerduty", {"routing_key": "R" * 32, "events_url": receiver.url + "/pd"}
            ),
        }
        clock = SystemClock()
        worker = OutboxWorker(store, notifiers, clock)
        now = clock.now()
        store.commit(notifications=[_notification(n, "slack", at=now) for n in range(30)],
                     now=now)  # fmt: skip
        store.commit(notifications=[_notification(n, "pd", at=now) for n in range(5)], now=now)
        started = time.monotonic()
        worker.start()
        try:
            deadline = started + 10.0
            while time.monotonic() < deadline:
                if sum(r.path.startswith("/pd") for r in receiver.requests) == 5:
                    break
                time.sleep(0.02)
            took = time.monotonic() - started
            slack = sum(r.path.startswith("/slack") for r in receiver.requests)
        finally:
            worker.close()
            store.close()
        assert sum(r.path.startswith("/pd") for r in receiver.requests) == 5
        assert took <= 2.0, f"the PagerDuty triggers took {took:.1f} s"
        assert 1 <= slack <= 4  # Slack's lane goes on at its own pace, one a second


def test_first_delivery_after_a_receiver_outage_comes_within_65_seconds(tmp_path: Path) -> None:
    """A 30-minute outage, then recovery, for several seeds of the backoff's jitter."""
    late = []
    with HttpReceiver(default=Reply(503)) as receiver:
        for seed in range(6):
            clock = Clock()
            store = SQLiteAlertStore(tmp_path / f"alerts-{seed}.sqlite")
            store.commit(notifications=[_notification(n, "hook") for n in range(3)], now=clock.t)
            worker = OutboxWorker(
                store, {"hook": build_notifier("webhook", {"url": receiver.url})}, clock,
                rng=random.Random(seed),
            )  # fmt: skip
            receiver.default = Reply(503)
            while clock.t < T0 + 1800:
                worker.run_once()
                clock.t += 1.0
            receiver.default = Reply(200)
            recovered = clock.t
            while not store.outbox(status="delivered") and clock.t < recovered + 600:
                worker.run_once()
                clock.t += 1.0
            first = min(e.delivered_at or 0.0 for e in store.outbox(status="delivered"))
            late.append(first - recovered)
            assert len(store.outbox(status="delivered")) == 3  # the others follow at once
            store.close()
    assert max(late) <= 65.0, late


def test_dead_letters_go_to_the_fallback_receiver_and_delivery_shows_on_metrics(
    tmp_path: Path,
) -> None:
    clock = Clock()
    with HttpReceiver(default=Reply(200)) as receiver:
        receiver.script(Reply(403, {"error": "invalid token"}))
        store = SQLiteAlertStore(tmp_path / "alerts.sqlite")
        notifiers = {
            "hook": build_notifier("webhook", {"url": receiver.url + "/hook"}),
            "fallback": build_notifier("webhook", {"url": receiver.url + "/fallback"}),
            "down": build_notifier("webhook", {"url": receiver.url + "/down"}),
        }
        worker = OutboxWorker(store, notifiers, clock, dead_letter_receiver="fallback")
        store.commit(notifications=[_notification(1, "hook")], now=clock.t)
        worker.run_once()
        fallback = [r.json() for r in receiver.requests if r.path == "/fallback"]
        assert len(fallback) == 1 and fallback[0]["groupKey"] == "group-1"
        (dead,) = store.outbox(status="dead")
        assert dead.notification.receiver == "hook" and "403" in dead.last_error
        receiver.default = Reply(500)
        store.commit(notifications=[_notification(2, "down")], now=clock.t)
        clock.t += 90
        worker.run_once()
        registry = CollectorRegistry()
        registry.register(DeliverySeries(worker.counts, store.outbox_depth, clock.now))
        text = generate_latest(registry).decode()
        store.close()
    assert 'mlpulse_notifications_dead_total{receiver="hook"} 1.0' in text
    assert 'mlpulse_notifications_sent_total{receiver="fallback"} 1.0' in text
    assert 'mlpulse_notifications_failed_total{receiver="down"} 1.0' in text
    assert 'mlpulse_outbox_pending{receiver="down"} 1.0' in text
    assert 'mlpulse_outbox_oldest_pending_age_seconds{receiver="down"} 90.0' in text


def test_dead_letter_receiver_must_name_a_receiver_at_the_root() -> None:
    receivers = {"pd": ReceiverConfig(kind="pagerduty", settings={"routing_key": "k"})}
    config = Config(
        version=1, receivers=receivers,
        route=RouteConfig(receiver="pd", dead_letter_receiver="nobody",
                          routes=[RouteConfig(receiver="pd", dead_letter_receiver="pd")]),
    )  # fmt: skip
    problems = {(p.path, p.message) for p in alerting_problems(config)}
    assert ("route.dead_letter_receiver", "no receiver named 'nobody' (receivers: pd)") in problems
    assert ("route.routes[0].dead_letter_receiver", "only the root route may set it") in problems
