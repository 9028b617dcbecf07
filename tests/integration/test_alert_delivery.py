"""The outbox against a real local webhook receiver: retries, restarts, dead letters."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from mlpulse.adapters.notify import build_notifier
from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.domain.alerts import Alert, AlertState, Notification, Severity
from mlpulse.services.outbox_worker import OutboxWorker
from tests.integration.receivers import HttpReceiver, Reply

T0 = 1_767_225_600.0


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


def _notification(n: int, status: str = "firing") -> Notification:
    alert = Alert(
        fingerprint=f"fp{n}", rule="drift", severity=Severity.WARNING,
        state=AlertState.RESOLVED if status == "resolved" else AlertState.FIRING,
        labels={"alertname": "drift", "model": f"m{n}"}, annotations={"summary": "drift"},
        value=0.4, active_since=T0, starts_at=T0, updated_at=T0,
    )  # fmt: skip
    return Notification(
        id=f"n{n}-{status}", receiver="hook", dedup_key=f"group-{n}",
        status="resolved" if status == "resolved" else "firing",
        severity=Severity.WARNING, group_labels={"model": f"m{n}"}, common_labels=alert.labels,
        alerts=[alert], title=f"drift (model=m{n})", created_at=T0,
    )  # fmt: skip


def _worker(store: SQLiteAlertStore, url: str, clock: Clock) -> OutboxWorker:
    notifier = build_notifier("webhook", {"url": url})
    return OutboxWorker(store, {"hook": notifier}, clock, rng=random.Random(0))


def test_a_receiver_down_for_a_while_gets_every_notification_once_across_a_restart(
    tmp_path: Path,
) -> None:
    clock = Clock()
    with HttpReceiver(default=Reply(200)) as receiver:
        receiver.script(*[Reply(500)] * 7)  # down for the first seven requests
        store = SQLiteAlertStore(tmp_path / "alerts.sqlite")
        store.commit(notifications=[_notification(n) for n in range(3)], now=clock.t)
        worker = _worker(store, receiver.url, clock)
        for _ in range(3):  # some attempts, then the collector restarts
            worker.run_once()
            clock.t += 60
        store.close()
        store = SQLiteAlertStore(tmp_path / "alerts.sqlite")  # the restarted service
        worker = _worker(store, receiver.url, clock)
        for _ in range(20):
            worker.run_once()
            clock.t += 60
        delivered = store.outbox(status="delivered")
        assert sorted(e.notification.dedup_key for e in delivered) == [
            "group-0", "group-1", "group-2",
        ]  # fmt: skip
        accepted = [r.json()["groupKey"] for r in receiver.requests[7:]]  # the 200s
        assert sorted(accepted) == ["group-0", "group-1", "group-2"]  # once per dedup key
        assert len(receiver.requests) == 7 + 3
        log = store.deliveries(delivered[0].id)
        assert [d.delivered for d in log][-1] is True and all(not d.delivered for d in log[:-1])
        store.close()


def test_a_newer_state_of_a_group_supersedes_an_undelivered_one_of_the_same_kind(
    tmp_path: Path,
) -> None:
    clock = Clock()
    with HttpReceiver(default=Reply(200)) as receiver:
        receiver.script(Reply(503, headers={"Retry-After": "120"}))
        store = SQLiteAlertStore(tmp_path / "alerts.sqlite")
        store.commit(notifications=[_notification(1)], now=clock.t)
        worker = _worker(store, receiver.url, clock)
        worker.run_once()  # 503: waits Retry-After, capped at a minute
        (pending,) = store.outbox(status="pending")
        assert pending.next_attempt_at == clock.t + 60
        clock.t += 30
        store.commit(notifications=[_notification(1, "firing-again")], now=clock.t)
        clock.t += 200
        worker.run_once()
        assert [e.status for e in store.outbox()] == ["delivered", "superseded"]
        store.close()


def test_a_trigger_waiting_out_an_outage_is_sent_before_its_resolve(tmp_path: Path) -> None:
    clock = Clock()
    with HttpReceiver(default=Reply(503)) as receiver:
        store = SQLiteAlertStore(tmp_path / "alerts.sqlite")
        store.commit(notifications=[_notification(1)], now=clock.t)
        worker = _worker(store, receiver.url, clock)
        worker.run_once()
        clock.t += 30
        store.commit(notifications=[_notification(1, "resolved")], now=clock.t)
        for _ in range(5):
            clock.t += 1
            worker.run_once()  # the resolve is due, but waits for its trigger
        assert {r.json()["status"] for r in receiver.requests} == {"firing"}
        receiver.default = Reply(200)  # the receiver is back
        clock.t += 120
        worker.run_once()
        accepted = [r.json()["status"] for r in receiver.requests[-2:]]
        assert accepted == ["firing", "resolved"]
        assert sorted(e.status for e in store.outbox()) == ["delivered", "delivered"]
        store.close()


def test_a_permanent_refusal_or_an_old_entry_goes_to_the_dead_letters(tmp_path: Path) -> None:
    clock = Clock()
    with HttpReceiver(default=Reply(500)) as receiver:
        receiver.script(Reply(400, body={"error": "bad payload"}))
        store = SQLiteAlertStore(tmp_path / "alerts.sqlite")
        store.commit(notifications=[_notification(1), _notification(2)], now=clock.t)
        worker = OutboxWorker(
            store, {"hook": build_notifier("webhook", {"url": receiver.url})}, clock,
            dead_after_s=3600, rng=random.Random(0),
        )  # fmt: skip
        for _ in range(80):
            worker.run_once()
            clock.t += 60
        dead = store.outbox(status="dead")
        assert {e.notification.id for e in dead} == {"n1-firing", "n2-firing"}
        assert any(e.attempts == 1 and "400" in e.last_error for e in dead)  # permanent
        store.close()
