"""The outbox worker: delivers queued notifications, retries, dead-letters.

Each due entry goes to its receiver's notifier once per attempt. Delivered → done.
A permanent failure (the service refused the request as malformed or unauthorised) or
an entry older than ``dead_after_s`` → the dead-letter list (``status = dead``),
visible through the API and CLI. Anything else → tried again after an exponential
backoff with full jitter (base × 2^attempts, capped), or after the service's
``Retry-After`` when it gave one and it is longer. Entries live in the store, so a
restart resumes where the worker stopped; delivery is at least once, and receivers
deduplicate on the notification's ``dedup_key``.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping

import msgspec

from mlpulse.domain.alerts import DeliveryResult, OutboxEntry
from mlpulse.ports import AlertStore, Clock, Notifier

log = logging.getLogger("mlpulse.outbox")


class OutboxWorker:
    def __init__(
        self,
        store: AlertStore,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        *,
        dead_after_s: float = 24 * 3600.0,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 300.0,
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
        self._rng = rng or random.Random()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def set_notifiers(self, notifiers: Mapping[str, Notifier]) -> None:
        """Replace the receivers (a new configuration was applied)."""
        self._notifiers = dict(notifiers)

    def backoff(self, attempts: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempts + 1``: full jitter, at least the
        service's Retry-After."""
        wait = self._rng.uniform(0.0, min(self._cap, self._base * 2.0**attempts))
        return max(wait, retry_after or 0.0)

    def run_once(self) -> int:
        """Attempt every due entry once; returns the number of attempts."""
        now = self._clock.now()
        entries = self._store.due(now)
        for entry in entries:
            self._attempt(entry)
        return len(entries)

    def _attempt(self, entry: OutboxEntry) -> None:
        notifier = self._notifiers.get(entry.notification.receiver)
        if notifier is None:
            result = DeliveryResult(
                delivered=False, detail=f"no receiver named {entry.notification.receiver!r}"
            )
        else:
            try:
                result = notifier.send(entry.notification)
            except Exception as exc:  # a notifier bug must not stop the worker
                log.exception("notifier %s failed on %s", notifier.kind, entry.id)
                result = DeliveryResult(delivered=False, detail=f"notifier error: {exc}")
        now = self._clock.now()
        attempts = entry.attempts + 1
        if result.delivered:
            updated = msgspec.structs.replace(
                entry, status="delivered", attempts=attempts, updated_at=now, delivered_at=now,
                last_error="",
            )  # fmt: skip
        elif result.permanent or now - entry.created_at >= self._dead_after:
            updated = msgspec.structs.replace(
                entry, status="dead", attempts=attempts, updated_at=now,
                last_error=f"{result.status_code or ''} {result.detail}".strip(),
            )  # fmt: skip
            log.warning("notification %s is dead: %s", entry.id, updated.last_error)
        else:
            updated = msgspec.structs.replace(
                entry, attempts=attempts, updated_at=now,
                next_attempt_at=now + self.backoff(attempts - 1, result.retry_after),
                last_error=f"{result.status_code or ''} {result.detail}".strip(),
            )  # fmt: skip
        self._store.record_attempt(updated, result, now=now)

    # -- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mlpulse-outbox", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the outbox now (new notifications were queued)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._is_leader():
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                self.run_once()
                next_at = self._store.next_due_at()
            except Exception:  # a loop boundary: log and keep delivering
                log.exception("outbox pass failed")
                next_at = None
            wait = 1.0 if next_at is None else min(1.0, max(0.0, next_at - self._clock.now()))
            self._wake.wait(wait)
            self._wake.clear()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
