"""The collector's background work: evaluator ticks and the raw events' retention."""

from __future__ import annotations

import logging
import threading

from mlpulse.ports import Clock, LabelStore
from mlpulse.services.evaluator import Evaluator, TickReport

log = logging.getLogger("mlpulse.background")

RETENTION_EVERY_S = 3600.0


class BackgroundLoop:
    """Ticks the evaluator every ``interval_s`` and enforces retention hourly."""

    def __init__(
        self,
        evaluator: Evaluator,
        events: LabelStore,
        clock: Clock,
        *,
        interval_s: float,
        retention_s: float,
    ) -> None:
        self._evaluator = evaluator
        self._events = events
        self._clock = clock
        self._interval = interval_s
        self._retention = retention_s
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one tick at a time (the loop, or a tick on demand)
        self._last_retention = 0.0
        self.last_report = TickReport()
        self._thread = threading.Thread(target=self._run, name="mlpulse-evaluator", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def tick(self) -> TickReport:
        """Run one evaluator tick now (the loop's own ticks wait for it)."""
        with self._lock:
            self.last_report = self._evaluator.tick()
            return self.last_report

    def enforce_retention(self) -> int:
        cutoff = self._clock.now() - self._retention
        deleted = self._events.delete_events_before(cutoff)
        if deleted:
            log.info("retention: deleted %d raw events older than %.0f", deleted, cutoff)
        return deleted

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.tick()
                now = self._clock.now()
                if now - self._last_retention >= RETENTION_EVERY_S:
                    self._last_retention = now
                    self.enforce_retention()
            except Exception:  # a loop boundary: log and keep evaluating
                log.exception("background tick failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
