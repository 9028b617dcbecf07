"""The outbox worker: delivers queued notifications, retries, dead-letters.

Each receiver has its own lane (a thread), so one slow or rate-limited receiver (Slack
takes one message a second) never holds another's pages: 30 Slack groups queued at
once delay no PagerDuty trigger. Within a lane, the entries of one dedup key go in the
order they were queued (a trigger before its resolve).

Delivered → done. A permanent failure (the service refused the request as malformed or
unauthorised) or an entry older than ``dead_after_s`` → the dead-letter list
(``status = dead``), visible through the API and CLI, and queued again to the
``dead_letter_receiver`` when one is configured. Anything else → tried again after an
exponential backoff with full jitter (base × 2^attempts), or after the service's
``Retry-After`` when it is longer, both capped at ``backoff_cap_s`` (60 s): after an
outage the first delivery comes at most about a minute after the receiver is back.
Meanwhile the lane holds the receiver's other entries (one probe, not a request per
entry), and the first delivery releases them all at once. Entries live in the store,
so a restart resumes where the worker stopped; delivery is at least once, and receivers
deduplicate on the notification's ``dedup_key``.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import msgspec

from mlpulse.domain.alerts import DeliveryResult, OutboxEntry
from mlpulse.ports import AlertStore, Clock, Notifier

log = logging.getLogger("mlpulse.outbox")

BACKOFF_CAP_S = 60.0


@dataclass(slots=True)
class DeliveryCounts:
    """Attempts of one receiver since the worker started: ``sent`` (accepted),
    ``failed`` (attempts that will be retried) and ``dead`` (given up on)."""

    sent: int = 0
    failed: int = 0
    dead: int = 0


class OutboxWorker:
    def __init__(
        self,
        store: AlertStore,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        *,
        dead_after_s: float = 24 * 3600.0,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = BACKOFF_CAP_S,
        dead_letter_receiver: str | None = None,
        rng: random.Random | None = None,
        is_leader: Callable[[], bool] = lambda: True,
    ) -> None:
        """``is_leader``: in a cluster only the leader delivers."""
        self._is_leader = is_leader
        self._store = store
        self._notifiers = dict(notifiers)
        self._clock = clock
        self._dead_after = dead_after_s
        self._base = backoff_base_s
        self._cap = backoff_cap_s
        self._dead_letter_receiver = dead_letter_receiver
        self._rng = rng or random.Random()
        self._lock = threading.Lock()  # counts, pauses and lanes
        self._counts: dict[str, DeliveryCounts] = {}
        self._paused_until: dict[str, float] = {}
        self._lanes: dict[str, _Lane] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def set_notifiers(
        self, notifiers: Mapping[str, Notifier], *, dead_letter_receiver: str | None = None
    ) -> None:
        """Replace the receivers (a new configuration was applied)."""
        self._notifiers = dict(notifiers)
        self._dead_letter_receiver = dead_letter_receiver

    def counts(self) -> dict[str, DeliveryCounts]:
        """Sent, failed and dead attempts by receiver (a copy)."""
        with self._lock:
            return {
                name: DeliveryCounts(c.sent, c.failed, c.dead) for name, c in self._counts.items()
            }

    def backoff(self, attempts: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempts + 1``: full jitter, at least the
        service's Retry-After, at most the cap."""
        wait = self._rng.uniform(0.0, min(self._cap, self._base * 2.0**attempts))
        return min(self._cap, max(wait, retry_after or 0.0))

    def run_once(self) -> int:
        """Attempt every due entry of every receiver once; returns the number of attempts."""
        attempts, done = 0, set()
        while names := [n for n in self._store.due_receivers(self._clock.now()) if n not in done]:
            for name in names:  # again: a dead letter may have queued for another receiver
                done.add(name)
                attempts += self.run_receiver(name)
        return attempts

    def run_receiver(self, receiver: str) -> int:
        """Attempt the due entries of one receiver (its lane's pass)."""
        attempts = 0
        while True:
            now = self._clock.now()
            with self._lock:
                if now < self._paused_until.get(receiver, 0.0):
                    return attempts
            entries = self._store.due(now, receiver=receiver)
            for entry in entries:
                if self._stop.is_set():
                    return attempts  # closing: the rest stays queued for the next start
                attempts += 1
                if not self._attempt(entry):
                    return attempts  # the receiver is failing: the lane waits, then probes
            if not entries:  # else again: a delivery may have unblocked the next of a key
                return attempts

    def _attempt(self, entry: OutboxEntry) -> bool:
        """One attempt; False when the receiver failed in a way worth waiting out."""
        receiver = entry.notification.receiver
        notifier = self._notifiers.get(receiver)
        if notifier is None:
            result = DeliveryResult(delivered=False, detail=f"no receiver named {receiver!r}")
        else:
            try:
                result = notifier.send(entry.notification)
            except Exception as exc:  # a notifier bug must not stop the worker
                log.exception("notifier %s failed on %s", notifier.kind, entry.id)
                result = DeliveryResult(delivered=False, detail=f"notifier error: {exc}")
        now = self._clock.now()
        attempts = entry.attempts + 1
        error = f"{result.status_code or ''} {result.detail}".strip()
        with self._lock:
            counts = self._counts.setdefault(receiver, DeliveryCounts())
            if result.delivered:
                counts.sent += 1
                self._paused_until.pop(receiver, None)
            elif result.permanent or now - entry.created_at >= self._dead_after:
                counts.dead += 1
            else:
                counts.failed += 1
        if result.delivered:
            updated = msgspec.structs.replace(
                entry, status="delivered", attempts=attempts, updated_at=now, delivered_at=now,
                last_error="",
            )  # fmt: skip
        elif result.permanent or now - entry.created_at >= self._dead_after:
            updated = msgspec.structs.replace(
                entry, status="dead", attempts=attempts, updated_at=now, last_error=error
            )
            log.warning("notification %s is dead: %s", entry.id, error)
        else:
            retry_at = now + self.backoff(attempts - 1, result.retry_after)
            updated = msgspec.structs.replace(
                entry, attempts=attempts, updated_at=now, next_attempt_at=retry_at,
                last_error=error,
            )  # fmt: skip
            with self._lock:
                self._paused_until[receiver] = retry_at
        self._store.record_attempt(updated, result, now=now)
        if updated.status == "dead":
            self._dead_letter(updated, now)
        return updated.status != "pending"

    def _dead_letter(self, entry: OutboxEntry, now: float) -> None:
        """Queue a dead entry again to the fallback receiver, so someone still hears of it."""
        fallback = self._dead_letter_receiver
        if fallback is None or entry.notification.receiver == fallback:
            return
        original = entry.notification
        copy = msgspec.structs.replace(
            original,
            id=f"{original.id}-dead-letter",
            receiver=fallback,
            title=f"[undelivered to {original.receiver}: {entry.last_error[:200]}] "
            + original.title,
            created_at=now,
        )
        self._store.commit(notifications=[copy], now=now)
        self.wake()

    # -- the threads ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mlpulse-outbox", daemon=True)
        self._thread.start()

    def leads(self) -> bool:
        """Whether this replica delivers (in a cluster, only the leader does)."""
        return self._is_leader()

    def wake(self) -> None:
        """Look at the outbox now (new notifications were queued)."""
        self._wake.set()

    def _run(self) -> None:
        """Hand each receiver with due entries to its lane; wait for the next due time."""
        while not self._stop.is_set():
            if not self.leads():
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                for name in self._store.due_receivers(self._clock.now()):
                    self._lane(name).wake()
                next_at = self._store.next_due_at()
            except Exception:  # a loop boundary: log and keep delivering
                log.exception("outbox pass failed")
                next_at = None
            # An entry already due belongs to a lane that is busy or waiting out a failing
            # receiver: look again in a second, not in a busy loop.
            ahead = None if next_at is None else next_at - self._clock.now()
            wait = 1.0 if ahead is None or ahead <= 0.0 else min(1.0, ahead)
            self._wake.wait(wait)
            self._wake.clear()

    def _lane(self, receiver: str) -> _Lane:
        with self._lock:
            lane = self._lanes.get(receiver)
            if lane is None:
                lane = self._lanes[receiver] = _Lane(self, receiver, self._stop)
                lane.start()
            return lane

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            lanes = list(self._lanes.values())
        for lane in lanes:
            lane.close()


class _Lane:
    """One receiver's delivery thread."""

    def __init__(self, worker: OutboxWorker, receiver: str, stop: threading.Event) -> None:
        self._worker = worker
        self._receiver = receiver
        self._stop = stop
        self._wake = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"mlpulse-outbox-{receiver}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            if not self._worker.leads():
                continue  # demoted meanwhile: the new leader delivers
            try:
                self._worker.run_receiver(self._receiver)
            except Exception:  # a loop boundary: log and keep delivering
                log.exception("outbox lane %s failed", self._receiver)

    def close(self) -> None:
        self._wake.set()
        self._thread.join()
