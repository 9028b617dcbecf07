"""Synthetic probes: each due probe of the applied ``mlpulse.yaml`` is requested, graded, written.

Run from the collector's background loop (the leader only, like the SLO job). Each tick
sends every due probe's request at once in a small thread pool and waits at most the
longest due probe's ``timeout`` (plus a little grace): a probe with no answer by then is
a failure, and is not sent again while its request is still out. One that never left
the pool (every worker busy with slower probes) writes nothing and is due at the next
tick: the collector's capacity is not the endpoint's failure. Each run writes, labelled
``probe`` and ``model`` (when the probe names one), at the time it was sent:

``mlpulse_probe_success``
    1 when the answer had ``expect_status``, held ``body_contains`` and came within
    ``max_latency_ms``; else 0.
``mlpulse_probe_latency_seconds``
    Seconds to the answer (the timeout when none came).
``mlpulse_probe_status_code``
    The answer's HTTP status; 0 when none came (refused, timed out).

A probe runs when ``every`` has passed since its last run, checked each tick: with the
default 10 s evaluator interval a ``30s`` probe runs every 30 s, and one shorter than the
interval runs once a tick. The reason a run fails is logged (``mlpulse.probes``) when
a probe starts failing, and its recovery when it succeeds again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from mlpulse.domain.monitoring import Config
from mlpulse.domain.probes import ProbeConfig, ProbeOutcome, ProbeResponse, probe_outcome
from mlpulse.domain.series import MetricPoint
from mlpulse.ports import Clock, HttpRequester, SeriesStore

__all__ = ["ProbeReport", "ProbeRun", "ProbeService"]

log = logging.getLogger("mlpulse.probes")

SUCCESS_SERIES = "mlpulse_probe_success"
LATENCY_SERIES = "mlpulse_probe_latency_seconds"
STATUS_SERIES = "mlpulse_probe_status_code"
GRACE_S = 0.5  # past the timeout, for the pool to hand the answer back
# Runs due within this of their time are run now rather than a whole tick late.
EARLY_S = 0.5


@dataclass(frozen=True, slots=True)
class ProbeRun:
    """One run of one probe: when it was sent, the response, the verdict."""

    probe: str
    at: float
    response: ProbeResponse
    outcome: ProbeOutcome


@dataclass(slots=True)
class ProbeReport:
    """What one tick did: the runs (in name order) and the points written."""

    runs: list[ProbeRun] = field(default_factory=list)
    points: int = 0
    not_sent: list[str] = field(default_factory=list)  # every worker was busy: next tick


class ProbeService:
    """Runs the applied config's due probes through ``http`` and writes their series."""

    def __init__(
        self,
        series: SeriesStore,
        clock: Clock,
        config: Callable[[], Config | None],
        http: HttpRequester,
        *,
        max_workers: int = 8,
    ) -> None:
        self._series = series
        self._clock = clock
        self._config = config
        self._http = http
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="probe")
        self._last: dict[str, float] = {}  # probe → when it was last sent
        self._out: dict[str, Future[ProbeResponse]] = {}  # requests not answered in time
        self._lock = threading.Lock()  # one tick at a time
        self.latest: dict[str, ProbeRun] = {}

    def tick(self) -> ProbeReport:
        """Send the due probes, wait for them (at most their timeout), write the series."""
        with self._lock:
            config = self._config()
            probes = dict(config.probes) if config is not None else {}
            now = self._clock.now()
            for gone in set(self._last) - set(probes):
                self._last.pop(gone, None)
                self.latest.pop(gone, None)
            self._out = {name: f for name, f in self._out.items() if not f.done()}
            due = {
                name: probe
                for name, probe in sorted(probes.items())
                if name not in self._out
                and now - self._last.get(name, float("-inf")) >= probe.every_s - EARLY_S
            }
            if not due:
                return ProbeReport()
            futures = {name: self._pool.submit(self._send, probe) for name, probe in due.items()}
            for name in due:
                self._last[name] = now
            wait(futures.values(), timeout=max(p.timeout_s for p in due.values()) + GRACE_S)
            report = ProbeReport()
            points: list[MetricPoint] = []
            for name, probe in due.items():
                if futures[name].cancel():  # never started: every worker busy with others
                    report.not_sent.append(name)
                    self._last.pop(name, None)
                    continue
                run = ProbeRun(name, now, *self._result(name, probe, futures[name]))
                report.runs.append(run)
                before = self.latest.get(name)
                if before is None or before.outcome.success != run.outcome.success:
                    if run.outcome.success:
                        log.info("probe %s succeeds", name)
                    else:
                        log.warning("probe %s fails: %s", name, run.outcome.reason)
                self.latest[name] = run
                points += _points(run, probe)
            if points:
                self._series.append_points(points)
            report.points = len(points)
            if report.not_sent:
                log.warning("probes not sent, every probe worker busy: %s", report.not_sent)
            return report

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _send(self, probe: ProbeConfig) -> ProbeResponse:
        return self._http.request(
            probe.method, probe.url, headers=probe.headers or {}, body=probe.body,
            timeout_s=probe.timeout_s,
        )  # fmt: skip

    def _result(
        self, name: str, probe: ProbeConfig, future: Future[ProbeResponse]
    ) -> tuple[ProbeResponse, ProbeOutcome]:
        if not future.done():
            self._out[name] = future  # not sent again until it returns
            response = ProbeResponse(None, "", probe.timeout_s, "timed out")
        else:
            try:
                response = future.result()
            except Exception as exc:  # an adapter that broke its promise not to raise
                log.exception("probe %s: the request raised", name)
                response = ProbeResponse(None, "", 0.0, type(exc).__name__)
        return response, probe_outcome(probe, response)


def _points(run: ProbeRun, probe: ProbeConfig) -> list[MetricPoint]:
    labels = {"probe": run.probe}
    if probe.model is not None:
        labels["model"] = probe.model
    return [
        MetricPoint(run.at, SUCCESS_SERIES, labels, float(run.outcome.success)),
        MetricPoint(run.at, LATENCY_SERIES, labels, run.response.elapsed_s),
        MetricPoint(run.at, STATUS_SERIES, labels, float(run.response.status or 0)),
    ]
