"""A simulated day of production, run in lock step with a real collector.

The collector (the real app, its stores on a fresh data directory, served over HTTP on
loopback) runs on a :class:`~mlpulse.demo.clock.SimulatedClock`. The serving side logs
through the real SDK and chooses versions with the real router. Each step the demo:

1. moves the clock to the step's end and logs the step's traffic (timestamped inside it);
2. waits until the collector has stored it (SDK flush) and profiled it (the window
   aggregator and the streaming detectors, :meth:`AggregatorThread.drain`);
3. runs the evaluator when a simulated minute has passed, then the alert engine (which
   opens incidents and runs runbooks), so detection happens at the simulated time it
   would have happened at in production;
4. waits for the serving router to see any routing change.

Steps are a minute long, and a quarter of a second around the two failures whose
detection is measured in seconds. In ``fast`` mode the traffic outside those scenes is
thinned (``scale``); inside them it is always the full rate, since how fast a streaming
detector fires depends on requests per second.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from mlpulse.core.experiments.assignment import assign
from mlpulse.demo import script
from mlpulse.demo.clock import SimulatedClock
from mlpulse.demo.traffic import (
    RECS_VERSIONS,
    arrival_times,
    expected_requests,
    fraud_requests,
    recs_requests,
)
from mlpulse.domain.alerts import AlertState

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mlpulse.sdk.client import Client
    from mlpulse.sdk.router import Router

USERS = 2_000_000
LABEL_DELAY = 600.0  # a click is known ten minutes after the recommendation
LABEL_SAMPLE = 0.1  # the share of recommendations whose click label is logged
EXPERIMENT_EVERY = 300.0  # the experiment's results are read every five minutes


@dataclass(frozen=True)
class DayOptions:
    seed: int = 7
    recs_per_day: float = 10_000_000
    fraud_per_day: float = 6_000_000
    scale: float = 1.0  # share of traffic sent outside the scenes (fast mode: thinned)
    speed: float = 0.0  # simulated seconds per wall second; 0: as fast as it goes
    coarse_step: float = script.COARSE_STEP  # seconds of traffic per step outside scenes


@dataclass
class Feed:
    """What happened, for the live view: (simulated time, text, style)."""

    entries: list[tuple[float, str, str]] = field(default_factory=list)
    listeners: list[Callable[[float, str, str], None]] = field(default_factory=list)

    def add(self, at: float, text: str, style: str = "") -> None:
        self.entries.append((at, text, style))
        for listener in self.listeners:
            listener(at, text, style)


@dataclass
class Progress:
    """Counters the live view shows."""

    now: float = script.DAY_START
    requests: dict[str, int] = field(default_factory=lambda: {"recs": 0, "fraud": 0})
    logged: int = 0
    errors: dict[str, int] = field(default_factory=lambda: {"recs": 0, "fraud": 0})
    serving: dict[str, str] = field(default_factory=lambda: {"recs": "v1", "fraud": "v1"})
    clicks: int = 0
    revenue: float = 0.0
    wall_started: float = field(default_factory=time.perf_counter)


@dataclass
class Measured:
    """What the demo measured, in simulated seconds."""

    drift_alert_at: float | None = None
    drift_columns: list[str] = field(default_factory=list)
    deploy_at: float | None = None
    incident: dict[str, Any] | None = None
    rollback_at: float | None = None
    router_switched_at: float | None = None
    experiment_decided_at: float | None = None
    experiment_result: dict[str, Any] | None = None
    promoted_at: float | None = None
    fraud_detected_at: float | None = None
    alerts_fired: list[str] = field(default_factory=list)
    # The recs SLO's error budget left just before the deploy and after it (at when).
    budget_before: float | None = None
    budget_after: float | None = None
    budget_after_at: float | None = None


class Day:
    """One run of the day; :meth:`run` returns what was measured."""

    def __init__(
        self,
        app: FastAPI,
        clock: SimulatedClock,
        admin: httpx.Client,
        client: Client,
        options: DayOptions,
        feed: Feed,
        progress: Progress,
    ) -> None:
        self.app = app
        self.clock = clock
        self.admin = admin
        self.client = client
        self.options = options
        self.feed = feed
        self.progress = progress
        self.measured = Measured()
        self.rng = np.random.default_rng(options.seed)
        self._served = {"recs": 0.0, "fraud": 0.0}
        self._labels: deque[tuple[float, str, int, str]] = deque()
        self._exposed: set[int] = set()
        self._experiment_running = False
        self._experiment_weights: dict[str, float] = {}
        self._experiment_versions: dict[str, str] = {}
        self._next_experiment_read = math.inf
        self._seen_alerts: dict[str, str] = {}
        self._seen_incidents: dict[str, str] = {}
        self._deployments_seen = 0
        self._router: Router | None = None
        self._champion_pinned = False
        self.reference_sample: dict[str, list[Any]] = {}
        self.drifted_sample: dict[str, list[Any]] = {}

    # -- the day ------------------------------------------------------------------------

    def run(self) -> Measured:
        start = script.DAY_START
        self._setup()
        marks = [start + b for b in script.boundaries()]
        t = start
        end = start + script.DAY_END
        wall_start = time.perf_counter()
        while t < end:
            offset = t - start
            fine = script.in_scene(offset)
            coarse = self.options.coarse_step
            length = script.FINE_STEP if fine else coarse - offset % coarse
            t1 = min(t + length, end, *(m for m in marks if m > t + 1e-9))
            self._actions(offset)
            self.clock.set(t1)
            self.progress.now = t1
            scale = 1.0 if fine else self.options.scale
            self._send(t, t1, scale)
            self._settle(minute_passed=math.floor(t1 / 60.0) > math.floor(t / 60.0))
            self._observe(t1)
            self._pin_champion_reference(t1)
            if self.options.speed > 0:
                ahead = (t1 - start) / self.options.speed - (time.perf_counter() - wall_start)
                if ahead > 0:
                    time.sleep(ahead)
            t = t1
        self._finish(end)
        return self.measured

    def _setup(self) -> None:
        for version in ("v1", "v2", "v3"):
            self._post(
                "/v1/registry/recs/versions",
                {"version": version, "artifact_uri": f"s3://models/recs/{version}"},
            )
        self._post("/v1/registry/fraud/versions", {"version": "v1", "artifact_uri": "s3://m/f1"})
        # The first version registered is the champion: v1 serves until the script says.
        self._router = self.client.router("recs", ready_timeout=30.0)
        self._deployments_seen = len(self.app.state.registry.deployments("recs"))

    def _actions(self, offset: float) -> None:
        """The script's events due at ``offset`` (each runs once, at its step's start)."""
        at = script.DAY_START + offset
        if offset == script.REFERENCE_END:
            self._post("/v1/models/recs/reference/window", {"start": script.DAY_START, "end": at})
            self._post("/v1/models/fraud/reference/window", {"start": script.DAY_START, "end": at})
            self.feed.add(at, "recs and fraud: 00:00-06:00 pinned as the drift reference", "dim")
        elif offset == script.DRIFT_AT:
            self.feed.add(
                at, "recs: item_price starts arriving in another currency (x1.6)", "yellow"
            )
        elif offset == script.DRIFT_FIXED_AT:
            self.feed.add(at, "recs: the price pipeline is fixed", "dim")
        elif offset == script.DEPLOY_AT:
            self.measured.deploy_at = at
            self.measured.budget_before = self._budget(at)
            self._post("/v1/registry/recs/promote", {"version": "v2", "reason": "ci: deploy v2"})
            self._sync_router()
            self.feed.add(at, "recs v2 deployed as champion (it will fail 30% of calls)", "yellow")
        elif offset == script.EXPERIMENT_AT:
            spec = script.experiment_spec()
            self._post("/v1/experiments", spec)
            self._post(f"/v1/experiments/{script.EXPERIMENT}/start", None)
            self._experiment_weights = {k: float(v) for k, v in spec["allocation"].items()}
            self._experiment_versions = dict(spec["variants"])
            self._check_assignment()
            self._experiment_running = True
            self._next_experiment_read = at + EXPERIMENT_EVERY
            self.feed.add(at, "A/B test started: recs v1 (control) vs v3, 50/50", "cyan")
        elif offset == script.FRAUD_SHIFT_AT:
            self.feed.add(at, "fraud: velocity_1h starts arriving per minute", "yellow")

    # -- traffic ------------------------------------------------------------------------

    def _send(self, t0: float, t1: float, scale: float) -> None:
        start = script.DAY_START
        offset = t0 - start
        for name, per_day in (
            ("recs", self.options.recs_per_day),
            ("fraud", self.options.fraud_per_day),
        ):
            expected = expected_requests(per_day, t0, t1, start)
            n = int(self.rng.poisson(expected * scale))
            # Requests the platform served (fast mode sends 1 in 1/scale of them).
            self._served[name] += n / scale
            self.progress.requests[name] = round(self._served[name])
            if n == 0:
                continue
            times = arrival_times(self.rng, n, t0, t1)
            if name == "recs":
                drifted = script.DRIFT_AT <= offset < script.DRIFT_FIXED_AT
                self._send_recs(times, price_factor=1.6 if drifted else 1.0)
            else:
                self._send_fraud(times, shifted=offset >= script.FRAUD_SHIFT_AT)
        self._send_labels(t1)

    def _versions(self, users: np.ndarray) -> list[str]:
        if self._experiment_running:
            weights, versions = self._experiment_weights, self._experiment_versions
            return [
                versions[assign(script.EXPERIMENT, f"user-{u}", weights) or "control"]
                for u in users.tolist()
            ]
        router = self._router
        assert router is not None
        return [router.choose(f"user-{u}").version for u in users.tolist()]

    def _send_recs(self, times: np.ndarray, *, price_factor: float) -> None:
        users = self.rng.integers(0, USERS, len(times))
        chosen = np.array(self._versions(users))
        log_prediction, log_outcome = self.client.log_prediction, self.client.log_outcome
        progress = self.progress
        for version in np.unique(chosen).tolist():
            index = np.flatnonzero(chosen == version)
            batch = recs_requests(
                self.rng, times[index], users[index], RECS_VERSIONS[version],
                price_factor=price_factor,
            )  # fmt: skip
            self._keep_samples(batch.features, times[0] - script.DAY_START)
            names = list(batch.features)
            columns = [batch.features[k] for k in names]
            error_text = RECS_VERSIONS[version].error
            labelled = self.rng.random(len(index)) < LABEL_SAMPLE
            stamps, user_ids = batch.times.tolist(), batch.users.tolist()
            scores, latencies = batch.score.tolist(), batch.latency_ms.tolist()
            failed, clicked = batch.failed.tolist(), batch.clicked.tolist()
            values = batch.purchase_value.tolist()
            for i, row in enumerate(zip(*columns, strict=True)):
                ts, user = stamps[i], user_ids[i]
                unit = f"user-{user}"
                if failed[i]:
                    features = dict(zip(names, row, strict=True))
                    log_prediction("recs", version, features, latency_ms=latencies[i],
                                   error=error_text, timestamp=ts)  # fmt: skip
                    continue
                rid = log_prediction(
                    "recs", version, dict(zip(names, row, strict=True)), int(scores[i] > 0.5),
                    score=scores[i], latency_ms=latencies[i], timestamp=ts,
                )  # fmt: skip
                if self._experiment_running and user not in self._exposed:
                    self._exposed.add(user)
                    log_outcome("exposure", model="recs", version=version, unit_id=unit,
                                timestamp=ts)  # fmt: skip
                if clicked[i]:
                    progress.clicks += 1
                    log_outcome("click", 1.0, model="recs", version=version, request_id=rid,
                                unit_id=unit, timestamp=ts)  # fmt: skip
                    if values[i] > 0:
                        progress.revenue += values[i]
                        log_outcome("purchase", values[i], model="recs", version=version,
                                    request_id=rid, unit_id=unit, timestamp=ts)  # fmt: skip
                if labelled[i]:
                    self._labels.append((ts + LABEL_DELAY, rid, int(clicked[i]), version))
            progress.errors["recs"] += int(batch.failed.sum())
            progress.logged += len(index)

    def _send_fraud(self, times: np.ndarray, *, shifted: bool) -> None:
        batch = fraud_requests(self.rng, times, shifted=shifted)
        names = list(batch.features)
        columns = [batch.features[k] for k in names]
        log_prediction = self.client.log_prediction
        stamps, scores = batch.times.tolist(), batch.score.tolist()
        latencies = batch.latency_ms.tolist()
        for i, row in enumerate(zip(*columns, strict=True)):
            log_prediction("fraud", "v1", dict(zip(names, row, strict=True)),
                           int(scores[i] > 0.5), score=scores[i], latency_ms=latencies[i],
                           timestamp=stamps[i])  # fmt: skip
        self.progress.logged += len(times)

    def _send_labels(self, now: float) -> None:
        labels = self._labels
        while labels and labels[0][0] <= now:
            due, rid, label, version = labels.popleft()
            self.client.log_label("recs", rid, label, version=version, timestamp=due)

    def _keep_samples(self, features: dict[str, list[Any]], offset: float) -> None:
        """Rows for the HTML drift report: the reference and the drifted hour."""
        if offset < script.REFERENCE_END:
            target = self.reference_sample
        elif script.DRIFT_AT <= offset < script.DRIFT_FIXED_AT:
            target = self.drifted_sample
        else:
            return
        if len(next(iter(target.values()), [])) >= 20_000:
            return
        for name, values in features.items():
            target.setdefault(name, []).extend(values[:2000])

    # -- lock step ----------------------------------------------------------------------

    def _settle(self, *, minute_passed: bool) -> None:
        if not self.client.flush(timeout=120.0):
            raise RuntimeError("the collector did not acknowledge the demo's traffic in 120 s")
        state = self.app.state
        state.windows.drain(timeout=120.0)
        if minute_passed:
            state.background.tick()  # the evaluator, then experiments' and rollouts' checks
        state.alerts.tick()  # rules → alerts → incidents → runbooks (a rollback)
        state.action_worker.wait_idle(30.0)  # runbook actions run off the tick: lock step
        self._sync_router()

    def _sync_router(self) -> None:
        """Wait until the serving router has the registry's current table."""
        router = self._router
        if router is None:
            return
        revision = self.app.state.registry.table("recs").revision
        deadline = time.monotonic() + 30.0
        while (table := router.table) is None or table.revision != revision:
            if time.monotonic() > deadline:
                raise RuntimeError("the serving router did not see the routing change in 30 s")
            time.sleep(0.002)
        self.progress.serving["recs"] = next(
            (e.version for e in table.entries if e.stage == "champion"), "?"
        )

    # -- what happened ------------------------------------------------------------------

    def _observe(self, now: float) -> None:
        state = self.app.state
        measured = self.measured
        for alert in state.alert_store.alerts(include_resolved_since=now - 120.0):
            before = self._seen_alerts.get(alert.fingerprint)
            current = alert.state.value
            if before == current:
                continue
            self._seen_alerts[alert.fingerprint] = current
            who = "/".join(
                alert.labels.get(k, "") for k in ("model", "version") if k in alert.labels
            )
            if alert.state == AlertState.FIRING:
                measured.alerts_fired.append(alert.rule)
                if alert.rule == "feature-drift" and measured.drift_alert_at is None:
                    measured.drift_alert_at = alert.starts_at or now
                    measured.drift_columns = self._drifted_columns(now)
                style = "bold red" if alert.severity.value == "critical" else "yellow"
                self.feed.add(now, f"ALERT {alert.severity.value} {alert.rule} ({who}): "
                              f"{alert.annotations.get('summary', '')}", style)  # fmt: skip
            elif alert.state == AlertState.RESOLVED and before is not None:
                self.feed.add(now, f"resolved: {alert.rule} ({who})", "green")
        for incident in state.incidents.incidents():
            if self._seen_incidents.get(incident.id) == incident.status:
                continue
            self._seen_incidents[incident.id] = incident.status
            self.feed.add(now, f"incident {incident.id} {incident.status}: {incident.title}",
                          "bold magenta")  # fmt: skip
            if incident.model == "recs" and measured.deploy_at is not None:
                measured.incident = {"id": incident.id, **incident.times,
                                     "opened_at": incident.opened_at,
                                     "onset_at": incident.onset_at}  # fmt: skip
        deployments = state.registry.deployments("recs")
        for deployment in deployments[self._deployments_seen :]:
            self.feed.add(deployment.at, f"deployment: {deployment.kind} recs {deployment.version} "
                          f"(by {deployment.actor})", "cyan")  # fmt: skip
            if deployment.kind == "rollback" and measured.rollback_at is None:
                measured.rollback_at = deployment.at
        self._deployments_seen = len(deployments)
        if (
            measured.rollback_at is not None
            and measured.router_switched_at is None
            and self.progress.serving["recs"] == "v1"
        ):
            measured.router_switched_at = now
        if measured.fraud_detected_at is None and now >= script.DAY_START + script.FRAUD_SHIFT_AT:
            points = state.series.query_points(
                "mlpulse_stream_change", matchers={"model": "fraud", "stream": "score"},
                start=script.DAY_START + script.FRAUD_SHIFT_AT, end=now,
            )  # fmt: skip
            if points:
                measured.fraud_detected_at = points[0].ts
                delay = points[0].ts - (script.DAY_START + script.FRAUD_SHIFT_AT)
                self.feed.add(points[0].ts, f"fraud: score shift detected by ADWIN "
                              f"{delay:.2f} s after it began", "bold red")  # fmt: skip
        self._read_budget_after_deploy(now)
        if self._experiment_running and now >= self._next_experiment_read:
            self._next_experiment_read = now + EXPERIMENT_EVERY
            self._read_experiment(now)

    def _budget(self, now: float) -> float:
        """The recs SLO's error budget left at ``now``, as ``GET /v1/slos`` serves it."""
        states = self.app.state.slos.states(now)
        state = next(s for s in states if s.name == script.SLO)
        return float(state.status.budget_remaining)

    def _read_budget_after_deploy(self, now: float) -> None:
        measured = self.measured
        deployed = measured.deploy_at
        if measured.budget_after is not None or deployed is None:
            return
        if now < deployed + script.SLO_AFTER_DEPLOY:
            return
        measured.budget_after, measured.budget_after_at = self._budget(now), now
        before = measured.budget_before
        was = "" if before is None else f" ({before:.1%} before the deploy)"
        self.feed.add(now, f"SLO {script.SLO}: {measured.budget_after:.1%} of the error "
                      f"budget left{was}", "yellow")  # fmt: skip

    def _drifted_columns(self, now: float) -> list[str]:
        points = self.app.state.series.query_points(
            "mlpulse_drift_score", matchers={"model": "recs"}, start=now - 600.0, end=now
        )
        return sorted(
            {p.labels.get("column", "?") for p in points if p.status in ("warning", "critical")}
        )

    def _read_experiment(self, now: float) -> None:
        results = self.admin.get(f"/v1/experiments/{script.EXPERIMENT}/results")
        results.raise_for_status()
        body = results.json()
        primary = body["metrics"][0]
        treatment = next(v for v in primary["variants"] if v["variant"] == "treatment")
        if treatment["outcome"] not in ("better", "worse"):
            return
        self._experiment_running = False
        self.measured.experiment_decided_at = now
        self.measured.experiment_result = {
            "outcome": treatment["outcome"], "relative": treatment["relative"],
            "relative_ci": treatment["relative_ci"], "p_value": treatment["p_value"],
            "units": body["units"], "verdict": body["verdict"],
        }  # fmt: skip
        self._post(f"/v1/experiments/{script.EXPERIMENT}/stop",
                   {"reason": f"decided: v3 {treatment['outcome']}"})  # fmt: skip
        lift = treatment["relative"]
        low, high = treatment["relative_ci"]
        text = (
            f"A/B test decided: v3 {treatment['outcome']} on click, {lift:+.1%} "
            f"[{low:+.1%}, {high:+.1%}] over {body['units']:,} users"
        )
        self.feed.add(now, text, "cyan")
        if treatment["outcome"] == "better":
            reason = f"{script.EXPERIMENT}: v3 better on click"
            self._post("/v1/registry/recs/promote", {"version": "v3", "reason": reason})
            self.measured.promoted_at = now
            self._sync_router()

    def _pin_champion_reference(self, now: float) -> None:
        """An hour after v3's promotion, pin that hour as v3's own drift reference.

        The recs reference (00:00-06:00) describes v1: v3 ranks differently, so its scores
        drift from v1's by design. A team pins the new champion's first settled hour, as
        here; v1 and v2 keep the model-wide reference.
        """
        promoted = self.measured.promoted_at
        if self._champion_pinned or promoted is None or now < promoted + script.HOUR:
            return
        self._champion_pinned = True
        window = {"start": promoted, "end": promoted + script.HOUR, "version": "v3"}
        self._post("/v1/models/recs/reference/window", window)
        self.feed.add(now, "recs: v3's first hour as champion pinned as its reference", "dim")

    def _check_assignment(self) -> None:
        """The demo assigns users locally, as SDKs do: check it agrees with the collector."""
        weights = self._experiment_weights
        for user in range(20):
            unit = f"user-{user}"
            answer = self.admin.get(
                f"/v1/experiments/{script.EXPERIMENT}/assignment", params={"unit": unit}
            ).json()
            if answer["variant"] != assign(script.EXPERIMENT, unit, weights):
                raise RuntimeError(f"local assignment of {unit} differs from the collector's")

    def _finish(self, end: float) -> None:
        self.client.flush(timeout=120.0)
        self.app.state.windows.drain(timeout=120.0)
        self._observe(end)

    def _post(self, path: str, body: Any) -> httpx.Response:
        response = self.admin.post(path, json=body)
        if response.is_error:
            raise RuntimeError(f"POST {path} failed: {response.status_code} {response.text}")
        return response
