"""The collector's background work: evaluator ticks and the raw events' retention."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from mlpulse.domain.monitoring import Config
from mlpulse.ports import Clock, LabelStore
from mlpulse.server.receivers import Receivers
from mlpulse.services.alert_engine import AlertEngine
from mlpulse.services.evaluator import Evaluator, TickReport
from mlpulse.services.outbox_worker import OutboxWorker

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
        after_tick: Callable[[], None] | None = None,
    ) -> None:
        self._evaluator = evaluator
        self._events = events
        self._clock = clock
        self._interval = interval_s
        self._retention = retention_s
        self._after_tick = after_tick
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
        if self._after_tick is not None:
            self._after_tick()  # the alert engine looks at the new points at once
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


class AlertLoop:
    """Ticks the alert engine every ``interval_s`` (and at once when woken: a streaming
    detection or an evaluator tick wrote points), and keeps the outbox worker's
    receivers in step with the applied configuration."""

    def __init__(
        self,
        engine: AlertEngine,
        worker: OutboxWorker,
        receivers: Receivers,
        config: Callable[[], Config | None],
        *,
        interval_s: float = 1.0,
    ) -> None:
        self._engine = engine
        self._worker = worker
        self._receivers = receivers
        self._config = config
        self._interval = interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._applied: object = None
        self._thread = threading.Thread(target=self._run, name="mlpulse-alerts", daemon=True)

    def start(self) -> None:
        self._sync_receivers()
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _sync_receivers(self) -> None:
        config = self._config()
        receivers = config.receivers if config else {}
        fallback = config.route.dead_letter_receiver if config and config.route else None
        if (receivers, fallback) != self._applied:
            notifiers = self._receivers.update(receivers)
            self._worker.set_notifiers(notifiers, dead_letter_receiver=fallback)
            self._applied = (receivers, fallback)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._sync_receivers()
                self._engine.tick()
            except Exception:  # a loop boundary: log and keep alerting
                log.exception("alert tick failed")

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
