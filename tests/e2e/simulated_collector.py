"""The real collector on a simulated clock, driven in lock step (as ``mlpulse demo`` is),
and the monitoring config the slow-deploy and healthy-traffic tests share.

:class:`SimulatedCollector` serves the real app (``create_app``, its stores on a fresh
data directory, HTTP on loopback) with a :class:`~mlpulse.demo.clock.SimulatedClock`;
traffic goes through the real SDK with each call's own timestamp. Each :meth:`step`
moves the clock to the step's end, sends the step's calls, waits until the collector
stored and profiled them (the streaming detectors included), runs the evaluator once a
simulated minute, then the alert engine (rules → alerts → incidents → runbooks) and waits
for the runbook actions it started. So minutes of production run in seconds, and what
happens depends on the seed, not on how busy the machine is.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import numpy as np

from mlpulse import Client
from mlpulse.adapters.store.factory import open_metadata
from mlpulse.demo.clock import SimulatedClock
from mlpulse.demo.collector_thread import CollectorThread
from mlpulse.domain.auth import Scope
from mlpulse.server.settings import Settings

# Rules on the streaming detectors, and one runbook that rolls back (or takes out of
# traffic) the version a critical one names, with the default confirmation: the config a
# team running canaries would apply. Both collectors in these tests get this very dict.
CONFIG: Final[dict[str, Any]] = {
    "version": 1,
    "rules": {
        "canary-slower": {
            "kind": "detection", "series": "mlpulse_canary_change",
            "match": {"signal": "latency"}, "severity": "critical",
            "annotations": {"summary": "{{ $labels.model }}/{{ $labels.version }} slower "
                                       "than {{ $labels.baseline }}"},
        },
        "canary-failing": {
            "kind": "detection", "series": "mlpulse_canary_change",
            "match": {"signal": "errors"}, "severity": "critical",
        },
        "latency-up": {
            "kind": "detection", "series": "mlpulse_stream_change",
            "match": {"stream": "latency_ms"}, "severity": "critical",
        },
        "errors-up": {
            "kind": "detection", "series": "mlpulse_stream_change",
            "match": {"stream": "error_rate"}, "severity": "critical",
        },
    },
    "runbooks": {
        "rollback-bad-version": {
            "match": {"severity": "critical"}, "actions": [{"kind": "rollback"}],
        },
    },
}  # fmt: skip

MEDIAN_LATENCY_MS: Final = 20.0


@dataclass(frozen=True)
class Call:
    version: str
    t: float
    latency_ms: float
    failed: bool = False
    score: float | None = None


def lognormal_calls(
    rng: np.random.Generator,
    start: float,
    end: float,
    *,
    rate: float,
    weights: dict[str, float],
    sigma: float = 1.0,
    slower: dict[str, float] | None = None,
    error_rate: float = 0.0,
) -> list[Call]:
    """Poisson arrivals at ``rate`` a second over [start, end), each sent to a version
    drawn by ``weights``, lognormal(``sigma``) latency around a 20 ms median (times
    ``slower[version]``), failing with probability ``error_rate``."""
    n = int(rng.poisson(rate * (end - start)))
    times = np.sort(rng.uniform(start, end, n))
    names = list(weights)
    p = np.array([weights[v] for v in names], dtype=np.float64)
    chosen = rng.choice(len(names), size=n, p=p / p.sum())
    latency = rng.lognormal(math.log(MEDIAN_LATENCY_MS), sigma, n)
    failed = rng.random(n) < error_rate
    factor = slower or {}
    return [
        Call(names[c], float(t), float(x) * factor.get(names[c], 1.0), bool(f))
        for t, c, x, f in zip(times.tolist(), chosen.tolist(), latency.tolist(),
                              failed.tolist(), strict=True)
    ]  # fmt: skip


class SimulatedCollector:
    """``with SimulatedCollector(tmp_path) as sim:`` — see the module docstring."""

    def __init__(self, data_dir: Path, *, start: float | None = None) -> None:
        self.start = float(math.floor(time.time())) if start is None else start
        settings = Settings(
            data_dir=data_dir, host="127.0.0.1", port=0,
            evaluator_interval_s=86_400.0,  # the steps run the evaluator, on simulated time
        )  # fmt: skip
        with open_metadata(settings) as metadata:
            self.admin_key = metadata.create_key([Scope.ADMIN], name="ops", now=self.start)[1]
            self.ingest_key = metadata.create_key([Scope.INGEST], name="web", now=self.start)[1]
        self.clock = SimulatedClock(self.start)
        self._thread = CollectorThread(settings, clock=self.clock)
        self.app = self._thread.app
        self._stack = ExitStack()
        self._last_minute = math.floor(self.start / 60.0)

    def __enter__(self) -> SimulatedCollector:
        url = self._stack.enter_context(self._thread)
        self.admin = self._stack.enter_context(
            httpx.Client(base_url=url, timeout=60.0,
                         headers={"Authorization": f"Bearer {self.admin_key}"})
        )  # fmt: skip
        self.client = self._stack.enter_context(
            Client(url, self.ingest_key, batch_size=5000, max_buffer=1_000_000,
                   flush_interval=0.05)
        )  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def now(self) -> float:
        return self.clock.now()

    def register(self, model: str, versions: Sequence[str]) -> None:
        """Register ``model``'s versions (the first is its champion at 100)."""
        for version in versions:
            self.admin.post(f"/v1/registry/{model}/versions",
                            json={"version": version, "artifact_uri": f"s3://m/{version}"},
                            ).raise_for_status()  # fmt: skip

    def route(self, model: str, routing: dict[str, tuple[str, int]]) -> None:
        """Set ``model``'s routing: version → (stage, weight)."""
        versions = [{"version": v, "stage": s, "weight": w} for v, (s, w) in routing.items()]
        self.admin.put(f"/v1/registry/{model}/routing",
                       json={"versions": versions}).raise_for_status()  # fmt: skip

    def routing(self, model: str) -> dict[str, tuple[str, int]]:
        entries = self.admin.get(f"/v1/routing/{model}").json()["entries"]
        return {e["version"]: (e["stage"], e["weight"]) for e in entries}

    def step(self, model: str, calls: Sequence[Call], until: float) -> None:
        """Move the clock to ``until``, send ``calls`` (all before it), and settle."""
        self.clock.set(until)
        for call in calls:
            self.client.log_prediction(
                model, call.version, {"x": 1.0}, 1.0, latency_ms=call.latency_ms, score=call.score,
                error="RuntimeError: boom" if call.failed else None, timestamp=call.t,
            )  # fmt: skip
        if not self.client.flush(timeout=120.0):
            raise RuntimeError("the collector did not acknowledge the traffic in 120 s")
        state = self.app.state
        state.windows.drain(timeout=120.0)  # stored, profiled, seen by the detectors
        minute = math.floor(until / 60.0)
        if minute > self._last_minute:
            self._last_minute = minute
            state.background.tick()  # the evaluator, as its loop would once a minute
        state.alerts.tick()  # rules → alerts → incidents → runbooks
        if not state.action_worker.wait_idle(30.0):
            raise RuntimeError("a runbook action did not finish in 30 s")

    def serve(
        self,
        model: str,
        rng: np.random.Generator,
        seconds: float,
        *,
        step: float = 1.0,
        **traffic: Any,
    ) -> Iterator[float]:
        """Serve ``seconds`` of :func:`lognormal_calls` traffic in steps of ``step``
        simulated seconds, split as the model's routing table says at each step (so a
        version a runbook took out gets no more calls), yielding each step's end."""
        end = self.now + seconds
        while (t := self.now) < end - 1e-9:
            t1 = min(t + step, end)
            weights = {v: float(w) for v, (_, w) in self.routing(model).items() if w > 0}
            self.step(model, lognormal_calls(rng, t, t1, weights=weights, **traffic), t1)
            yield t1
