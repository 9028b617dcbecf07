"""Paging delivery: how long PagerDuty triggers wait behind a burst of Slack messages, and
how soon delivery resumes after a receiver's outage.

1. ``--burst``: 30 Slack groups and 5 PagerDuty triggers queued at once, real threads and
   real HTTP to local receivers (Slack's notifier keeps to 1 message a second); prints the
   seconds until the last PagerDuty trigger was received.
2. ``--outage``: 3 notifications to a webhook that answers 503 for 30 minutes, then 200;
   a fake clock stepped by 1 s; prints, over ``--seeds`` seeds of the backoff's jitter, the
   seconds from recovery to the first delivery (median, max).

Uses only the outbox API that existed before the per-receiver lanes, so the same script
measures both (``PYTHONPATH`` chooses the code)::

    PYTHONPATH=src .venv/bin/python bench/paging_delivery.py
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mlpulse.adapters.clock import SystemClock
from mlpulse.adapters.notify import build_notifier
from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.domain.alerts import Alert, AlertState, Notification, Severity
from mlpulse.services.outbox_worker import OutboxWorker


class _Receiver:
    """Records the time of each request by path; answers ``status`` (changeable)."""

    def __init__(self) -> None:
        self.status = 200
        self.seen: list[tuple[float, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.seen.append((time.monotonic(), self.path))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _notification(n: int, receiver: str, at: float) -> Notification:
    alert = Alert(
        fingerprint=f"fp{n}", rule="slow", severity=Severity.CRITICAL, state=AlertState.FIRING,
        labels={"alertname": "slow", "model": f"m{n}"}, annotations={"summary": "slow"},
        value=3.0, active_since=at, starts_at=at, updated_at=at,
    )  # fmt: skip
    return Notification(
        id=f"{receiver}-{n}", receiver=receiver, dedup_key=f"{receiver}-group-{n}",
        status="firing", severity=Severity.CRITICAL, group_labels={"model": f"m{n}"},
        common_labels=alert.labels, alerts=[alert], title=f"slow (model=m{n})", created_at=at,
    )  # fmt: skip


def burst(directory: Path) -> float:
    receiver = _Receiver()
    store = SQLiteAlertStore(directory / "burst.sqlite")
    notifiers = {
        "slack": build_notifier("slack", {"url": receiver.url + "/slack"}),
        "pd": build_notifier("pagerduty", {"routing_key": "R" * 32,
                                           "events_url": receiver.url + "/pd"}),
    }  # fmt: skip
    clock = SystemClock()
    worker = OutboxWorker(store, notifiers, clock)
    now = clock.now()
    store.commit(notifications=[_notification(n, "slack", now) for n in range(30)], now=now)
    store.commit(notifications=[_notification(n, "pd", now) for n in range(5)], now=now)
    started = time.monotonic()
    worker.start()
    while sum(path.startswith("/pd") for _, path in receiver.seen) < 5:
        if time.monotonic() - started > 60:
            break
        time.sleep(0.01)
    last_pd = max((t for t, path in receiver.seen if path.startswith("/pd")), default=started)
    receiver.close()
    threading.Thread(target=worker.close, daemon=True).start()  # the old worker drains Slack
    return last_pd - started


@dataclass
class _Clock:
    t: float = 1_767_225_600.0

    def now(self) -> float:
        return self.t


def outage(directory: Path, seed: int) -> float:
    receiver = _Receiver()
    clock = _Clock()
    store = SQLiteAlertStore(directory / f"outage-{seed}.sqlite")
    store.commit(notifications=[_notification(n, "hook", clock.t) for n in range(3)],
                 now=clock.t)  # fmt: skip
    worker = OutboxWorker(store, {"hook": build_notifier("webhook", {"url": receiver.url})},
                          clock, rng=random.Random(seed))  # fmt: skip
    receiver.status = 503
    end = clock.t + 1800
    while clock.t < end:
        worker.run_once()
        clock.t += 1.0
    receiver.status = 200
    recovered = clock.t
    while not store.outbox(status="delivered") and clock.t < recovered + 900:
        worker.run_once()
        clock.t += 1.0
    delivered = [e.delivered_at or 0.0 for e in store.outbox(status="delivered")]
    store.close()
    receiver.close()
    return min(delivered, default=clock.t) - recovered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        took = burst(directory)
        print(f"burst: last of 5 PagerDuty triggers behind 30 Slack groups after {took:.2f} s")
        late = [outage(directory, seed) for seed in range(args.seeds)]
        print(
            f"outage: first delivery after recovery, {args.seeds} seeds: median "
            f"{statistics.median(late):.0f} s, max {max(late):.0f} s"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
