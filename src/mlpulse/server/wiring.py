"""The collector's services, built from a storage :class:`~mlpulse.ports.Backend`.

:func:`wire` puts each service (and the ports routes read directly) on the app's state
and returns the :class:`Running` parts: the background threads to start and stop. It
names no store adapter: whatever ``MLPULSE_STORE`` opened serves them all.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlpulse.adapters.http_poster import HttpPoster
from mlpulse.adapters.http_requester import HttpRequester
from mlpulse.domain.alerts import Notification
from mlpulse.ports import Backend, Clock, Coordination
from mlpulse.server import config_routes
from mlpulse.server.auth import Authenticator
from mlpulse.server.background import AlertLoop, BackgroundLoop
from mlpulse.server.check_metrics import CheckPoints
from mlpulse.server.metrics import CollectorMetrics, DeliverySeries
from mlpulse.server.receivers import Receivers
from mlpulse.server.registry_control import ChampionSink, RegistryControl
from mlpulse.server.routing_health import RoutingHealth
from mlpulse.server.settings import Settings
from mlpulse.services.action_worker import ActionWorker
from mlpulse.services.alert_engine import AlertEngine
from mlpulse.services.alertmanager import AlertmanagerIntake
from mlpulse.services.bandits import Bandits
from mlpulse.services.budget_policy import BudgetPolicy
from mlpulse.services.evaluator import Evaluator
from mlpulse.services.experiments import Experiments
from mlpulse.services.incidents import IncidentService
from mlpulse.services.ingest import IngestService, Observers, SchemaTracker
from mlpulse.services.outbox_worker import OutboxWorker
from mlpulse.services.probes import ProbeService
from mlpulse.services.registry import Registry
from mlpulse.services.rollouts import Rollouts
from mlpulse.services.runbook_actions import RunbookActions
from mlpulse.services.slos import SloService
from mlpulse.services.stream_detection import StreamDetectors
from mlpulse.services.windows import (
    AggregatorThread,
    ModelKinds,
    Pacer,
    WindowAggregator,
    paced,
)


def _champion_sinks(settings: Settings) -> list[ChampionSink]:
    """Registries outside mlpulse that follow rollbacks (MLflow, when configured)."""
    if not settings.mlflow_tracking_uri:
        return []
    from mlpulse.adapters.registry.mlflow_alias import MlflowAlias

    return [MlflowAlias(settings.mlflow_tracking_uri)]


@dataclass
class Running:
    """The threads and clients the services run on, started and stopped in order."""

    coordination: Coordination
    worker: OutboxWorker
    action_worker: ActionWorker
    alert_loop: AlertLoop
    background: BackgroundLoop
    windows: AggregatorThread
    receivers: Receivers
    poster: HttpPoster
    registry: Registry
    probes: ProbeService
    requester: HttpRequester

    def start(self) -> None:
        self.coordination.changes.start()
        self.coordination.leadership.start()
        self.worker.start()
        self.action_worker.start()
        self.alert_loop.start()
        self.background.start()

    def close(self) -> None:
        """Stop everything that writes before the backend closes."""
        self.coordination.leadership.close()  # another replica takes over at once
        self.coordination.changes.close()
        self.background.close()
        self.alert_loop.close()
        self.action_worker.close()
        self.worker.close()
        self.receivers.close()
        self.poster.close()
        self.probes.close()
        self.requester.close()
        self.registry.close()  # wakes long-polls before the store closes
        self.windows.close()  # writes every open minute before the store closes


def wire(
    state: Any, backend: Backend, settings: Settings, clock: Clock, metrics: CollectorMetrics
) -> Running:
    """Build every service from ``backend``'s ports and put them on ``state``."""
    metadata, events, series = backend.metadata, backend.events, backend.series
    state.backend = backend
    state.metadata, state.store, state.series = metadata, events, series
    state.alert_store, state.traffic = backend.alerts, backend.traffic
    state.experiment_outcomes = backend.experiment_outcomes
    state.auth = Authenticator(metadata, cache_seconds=settings.key_cache_seconds)
    metrics.registry.register(CheckPoints(series))
    name = settings.writer_id or f"{socket.gethostname()}-{os.getpid()}"
    coordination = backend.coordination(
        name=name, url=settings.advertise_url or f"http://{settings.host}:{settings.port}"
    )
    leadership = state.leadership = coordination.leadership
    aggregator = WindowAggregator(series, writer=name, kinds=ModelKinds(metadata))
    state.detectors = StreamDetectors(series, clock)
    # The detectors see each model's whole stream: this process's ingest, or in a cluster
    # every replica's, which the leader follows (in slices, as the aggregator does).
    follower = coordination.follow_stream(paced(state.detectors, Pacer()))
    windows = state.windows = AggregatorThread(
        aggregator, clock, listeners=[] if follower else [state.detectors]
    )
    schemas = SchemaTracker(
        metadata, versions=metadata.known_versions(), columns=metadata.known_columns(),
        max_models=settings.max_models, max_features=settings.max_features_per_model,
    )  # fmt: skip
    state.ingest = IngestService(events, schemas, clock, Observers([metrics, windows]))
    config = config_routes.AppliedConfigCache(metadata)
    evaluator = Evaluator(
        series=series, labels=backend.labels, metadata=metadata, clock=clock, config=config
    )
    slos = state.slos = SloService(series, clock, config)
    requester = HttpRequester()
    probes = state.probes = ProbeService(series, clock, config, requester)
    # An SLO with policy freeze_rollouts and a spent budget refuses promotions and starts.
    budget = state.budget_policy = BudgetPolicy(series, clock, config)
    registry = state.registry = Registry(backend.registry, clock, guard=budget.check)
    experiments = state.experiments = Experiments(
        backend.experiments, backend.experiment_outcomes, clock, guard=budget.check
    )
    worker = OutboxWorker(backend.alerts, {}, clock, is_leader=lambda: leadership.is_leader)
    metrics.registry.register(DeliverySeries(worker.counts, backend.alerts.outbox_depth, clock.now))
    engine = state.alerts = AlertEngine(
        series=series, store=backend.alerts, clock=clock, config=config,
        on_queued=worker.wake, external_url=settings.external_url,
    )  # fmt: skip
    state.alertmanager_intake = AlertmanagerIntake(clock)
    poster = HttpPoster()

    def enqueue(notification: Notification) -> None:
        backend.alerts.commit(notifications=[notification], now=clock.now())
        worker.wake()

    actions = RunbookActions(
        routing=RegistryControl(registry, sinks=_champion_sinks(settings)),
        poster=poster,
        enqueue=enqueue,
        pause=experiments.stop,
    )
    action_worker = state.action_worker = ActionWorker()  # never in the alert tick
    incidents = state.incidents = IncidentService(
        backend.incidents, clock, config, actions, run_later=action_worker.submit, series=series
    )
    rollouts, bandits = _steering(backend, registry, clock, incidents)
    state.rollouts, state.bandits = rollouts, bandits
    registry.on_deployment = lambda d: incidents.add_deployment(
        d.model, f"{d.kind}: {d.model} champion {d.version} (by {d.actor})", d.at
    )
    engine.on_alerts = incidents.on_alerts
    receivers = Receivers()
    alert_loop = AlertLoop(
        engine, worker, receivers, config, is_leader=lambda: leadership.is_leader
    )
    # Routers polling any replica avoid unhealthy versions: the leader's alert states, or
    # on another replica what the leader stored at its last tick.
    state.routing_health = RoutingHealth(
        lambda: engine.alerts() if leadership.is_leader else backend.alerts.alerts()
    )
    # A routing change wakes the long-polls of every replica.
    changes = coordination.changes
    registry.on_change = lambda model: changes.publish("routing", model)
    changes.subscribe(lambda topic, key: registry.wake(key) if topic in ("routing", None) else None)

    def lead(leading: bool) -> None:
        if follower is not None:
            (follower.start if leading else follower.stop)()

    leadership.on_change = lead
    state.detectors.on_point = lambda _point: alert_loop.wake()

    background = state.background = BackgroundLoop(
        evaluator,
        backend.labels,
        clock,
        interval_s=settings.evaluator_interval_s,
        retention_s=settings.retention_days * 86400.0,
        is_leader=lambda: leadership.is_leader,
        jobs=[  # each isolated: one that fails never stops the others
            ("slos", slos.tick),  # SLI, budget and burn-rate series, before the alerts
            ("probes", probes.tick),  # synthetic probes that are due (waits their timeout)
            ("alerts", alert_loop.wake),
            ("experiments", experiments.check_running),  # early stopping for harm
            ("rollouts", rollouts.tick),  # hold, advance, promote or roll back
            ("bandits", bandits.tick),  # re-allocate every running bandit that is due
        ],
    )
    return Running(
        coordination, worker, action_worker, alert_loop, background, windows, receivers,
        poster, registry, probes, requester,
    )  # fmt: skip


def _steering(
    backend: Backend, registry: Registry, clock: Clock, incidents: IncidentService
) -> tuple[Rollouts, Bandits]:
    """Rollouts and bandits: one job steers a model, checked and started in one step."""
    steering = threading.Lock()
    rollouts = Rollouts(
        backend.rollouts, backend.rollout_outcomes, registry, clock,
        incidents=incidents,  # a rollback runs as an audited action on the incident
        busy=lambda model: next(  # one job steers a model: a bandit refuses a rollout
            (f"{model!r} has a running bandit ({b.id})" for b in backend.bandits.list()
             if b.model == model and b.status == "running"), None,
        ),
        steering=steering,
    )  # fmt: skip
    bandits = Bandits(
        backend.bandits, backend.bandit_rewards, registry, clock, busy=_busy(rollouts),
        steering=steering,
    )  # fmt: skip
    return rollouts, bandits


def _busy(rollouts: Rollouts) -> Callable[[str], str | None]:
    """Why a model may not get a bandit now: a running rollout owns its routing."""

    def busy(model: str) -> str | None:
        return next(
            (f"{model!r} has a running rollout ({r.id})" for r in rollouts.list()
             if r.model == model and r.status == "running"),
            None,
        )  # fmt: skip

    return busy
