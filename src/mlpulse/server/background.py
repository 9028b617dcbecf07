"""The collector's background work: evaluator ticks, the jobs after them, retention.

Each part stands alone: an evaluator tick that fails, or one job (rollouts, bandits,
experiments' early stopping) that raises, is logged and the rest still run, and
retention runs on its own schedule whatever happened before it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from mlpulse.domain.monitoring import Config
from mlpulse.ports import Clock, LabelStore
from mlpulse.server.receivers import Receivers
from mlpulse.services.alert_engine import AlertEngine
from mlpulse.services.evaluator import Evaluator, TickReport
from mlpulse.services.outbox_worker import OutboxWorker

log = logging.getLogger("mlpulse.background")

RETENTION_EVERY_S = 3600.0

Job = tuple[str, Callable[[], object]]  # (name for the log, what to run after each tick)


class BackgroundLoop:
    """Ticks the evaluator every ``interval_s``, then each of ``jobs`` in order, each
    isolated from the others; enforces retention hourly."""

    def __init__(
        self,
        evaluator: Evaluator,
        events: LabelStore,
        clock: Clock,
        *,
        interval_s: float,
        retention_s: float,
        jobs: Sequence[Job] = (),
        is_leader: Callable[[], bool] = lambda: True,
    ) -> None:
        """``is_leader``: in a cluster only the leader ticks (the loop idles elsewhere)."""
        self._is_leader = is_leader
        self._evaluator = evaluator
        self._events = events
        self._clock = clock
        self._interval = interval_s
        self._retention = retention_s
        self._jobs = list(jobs)
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one tick at a time (the loop, or a tick on demand)
        self._last_retention = 0.0
        self.last_report = TickReport()
        self.failed_jobs: list[str] = []  # the jobs that raised at the last tick
        self._thread = threading.Thread(target=self._run, name="mlpulse-evaluator", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def tick(self) -> TickReport:
        """Run one evaluator tick now (the loop's own ticks wait for it), then the jobs,
        which run even when the evaluator raised (the error is raised after them)."""
        try:
            with self._lock:
                self.last_report = self._evaluator.tick()
        finally:
            self.run_jobs()
        return self.last_report

    def run_jobs(self) -> list[str]:
        """Run every job; the names of those that raised (logged, never propagated)."""
        failed = []
        for name, job in self._jobs:
            try:
                job()
            except Exception:  # a loop boundary: one job must not stop the others
                log.exception("background job %s failed", name)
                failed.append(name)
        self.failed_jobs = failed
        return failed

    def enforce_retention(self) -> int:
        cutoff = self._clock.now() - self._retention
        deleted = self._events.delete_events_before(cutoff)
        if deleted:
            log.info("retention: deleted %d raw events older than %.0f", deleted, cutoff)
        return deleted

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if not self._is_leader():
                continue
            try:
                self.tick()
            except Exception:  # a loop boundary: log and keep evaluating
                log.exception("background tick failed")
            try:
                now = self._clock.now()
                if now - self._last_retention >= RETENTION_EVERY_S:
                    self._last_retention = now
                    self.enforce_retention()
            except Exception:
                log.exception("retention failed")

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
        is_leader: Callable[[], bool] = lambda: True,
    ) -> None:
        """``is_leader``: in a cluster only the leader ticks; a replica that becomes the
        leader first reloads the alert states the previous leader stored."""
        self._is_leader = is_leader
        self._leading = False
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
            leading = self._is_leader()
            try:
                if leading and not self._leading:
                    self._engine.reload()
                self._leading = leading
                if not leading:
                    continue
                self._sync_receivers()
                self._engine.tick()
            except Exception:  # a loop boundary: log and keep alerting
                log.exception("alert tick failed")

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
