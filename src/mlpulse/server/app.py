"""``create_app(settings)``: the collector, wired."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI

from mlpulse.adapters.clock import SystemClock
from mlpulse.adapters.http_poster import HttpPoster
from mlpulse.adapters.store.duckdb_bandits import DuckDBBanditOutcomes
from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.duckdb_experiments import DuckDBExperimentOutcomes
from mlpulse.adapters.store.duckdb_rollouts import DuckDBRolloutOutcomes
from mlpulse.adapters.store.duckdb_series import DuckDBSeriesStore
from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.adapters.store.sqlite_bandits import SQLiteBanditStore
from mlpulse.adapters.store.sqlite_experiments import SQLiteExperimentStore
from mlpulse.adapters.store.sqlite_metadata import SQLiteMetadataStore
from mlpulse.adapters.store.sqlite_profiles import SQLiteProfileStore
from mlpulse.adapters.store.sqlite_registry import SQLiteRegistryStore
from mlpulse.adapters.store.sqlite_rollouts import SQLiteRolloutStore
from mlpulse.domain.alerts import Notification
from mlpulse.domain.events import Batch
from mlpulse.domain.experiments import Assignment, ExperimentResults, ExperimentSpec
from mlpulse.domain.ingest import IngestResult
from mlpulse.domain.models import ModelInfo, ModelSummary
from mlpulse.domain.registry import Deployment, ModelVersion, RoutingTable
from mlpulse.ports import Clock
from mlpulse.server import (
    alert_routes,
    bandit_routes,
    config_routes,
    dashboard,
    experiment_routes,
    incident_routes,
    key_routes,
    model_routes,
    reference_routes,
    registry_routes,
    rollout_routes,
    series_routes,
    system_routes,
)
from mlpulse.server.auth import Authenticator
from mlpulse.server.background import AlertLoop, BackgroundLoop
from mlpulse.server.check_metrics import CheckPoints
from mlpulse.server.errors import ErrorBody, install_error_handlers
from mlpulse.server.ingest import routes as ingest_routes
from mlpulse.server.metrics import CollectorMetrics
from mlpulse.server.openapi import install_openapi
from mlpulse.server.receivers import Receivers
from mlpulse.server.registry_control import ChampionSink, RegistryControl
from mlpulse.server.settings import Settings
from mlpulse.services.alert_engine import AlertEngine
from mlpulse.services.bandits import Bandit, Bandits
from mlpulse.services.evaluator import Evaluator
from mlpulse.services.experiments import Experiments
from mlpulse.services.incidents import IncidentService
from mlpulse.services.ingest import IngestService, Observers, SchemaTracker
from mlpulse.services.outbox_worker import OutboxWorker
from mlpulse.services.registry import Registry
from mlpulse.services.rollouts import Rollout, Rollouts
from mlpulse.services.runbook_actions import RunbookActions
from mlpulse.services.stream_detection import StreamDetectors
from mlpulse.services.windows import AggregatorThread, ModelKinds, WindowAggregator


def _champion_sinks(settings: Settings) -> list[ChampionSink]:
    """Registries outside mlpulse that follow rollbacks (MLflow, when configured)."""
    if not settings.mlflow_tracking_uri:
        return []
    from mlpulse.adapters.registry.mlflow_alias import MlflowAlias

    return [MlflowAlias(settings.mlflow_tracking_uri)]


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """The collector app. Stores open when the app starts and close when it stops."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        metadata = SQLiteMetadataStore(settings.metadata_path)
        store = DuckDBEventStore(settings.events_path, checkpoint_mb=settings.checkpoint_mb)
        schemas = SchemaTracker(
            metadata, versions=metadata.known_versions(), columns=metadata.known_columns(),
            max_models=settings.max_models, max_features=settings.max_features_per_model,
        )  # fmt: skip
        app.state.metadata = metadata
        app.state.store = store
        app.state.auth = Authenticator(metadata, cache_seconds=settings.key_cache_seconds)
        series = DuckDBSeriesStore(store.connection(), SQLiteProfileStore(settings.profiles_path))
        app.state.series = series
        app.state.metrics.registry.register(CheckPoints(series))
        clock = app.state.clock
        aggregator = WindowAggregator(
            series,
            writer=settings.writer_id or f"{socket.gethostname()}-{os.getpid()}",
            kinds=ModelKinds(metadata),
        )
        app.state.detectors = StreamDetectors(series, clock)
        windows = AggregatorThread(aggregator, clock, listeners=[app.state.detectors])
        app.state.windows = windows
        observers = Observers([app.state.metrics, windows])
        app.state.ingest = IngestService(store, schemas, clock, observers)
        config = config_routes.AppliedConfigCache(metadata)
        evaluator = Evaluator(
            series=series, labels=store, metadata=metadata, clock=clock, config=config
        )
        alert_store = SQLiteAlertStore(settings.alerts_path)
        app.state.alert_store = alert_store
        registry_store = SQLiteRegistryStore(settings.registry_path)
        app.state.registry = Registry(registry_store, clock)
        experiment_store = SQLiteExperimentStore(settings.experiments_path)
        experiments = Experiments(experiment_store, DuckDBExperimentOutcomes(store), clock)
        app.state.experiments = experiments
        worker = OutboxWorker(alert_store, {}, clock)
        engine = AlertEngine(
            series=series, store=alert_store, clock=clock, config=config,
            on_queued=worker.wake,
        )  # fmt: skip
        app.state.alerts = engine
        poster = HttpPoster()

        def enqueue(notification: Notification) -> None:
            alert_store.commit(notifications=[notification], now=clock.now())
            worker.wake()

        incidents = IncidentService(
            alert_store,
            clock,
            config,
            RunbookActions(
                routing=RegistryControl(app.state.registry, sinks=_champion_sinks(settings)),
                poster=poster,
                enqueue=enqueue,
                pause=experiments.stop,
            ),
        )
        app.state.incidents = incidents
        rollout_store = SQLiteRolloutStore(settings.rollouts_path)
        rollouts = Rollouts(
            rollout_store, DuckDBRolloutOutcomes(store), app.state.registry, clock,
            incidents=incidents,  # a rollback runs as an audited action on the incident
        )  # fmt: skip
        app.state.rollouts = rollouts
        bandit_store = SQLiteBanditStore(settings.bandits_path)
        bandits = Bandits(
            bandit_store, DuckDBBanditOutcomes(store), app.state.registry, clock,
            busy=lambda model: next(
                (f"{model!r} has a running rollout ({r.id})" for r in rollouts.list()
                 if r.model == model and r.status == "running"), None,
            ),
        )  # fmt: skip
        app.state.bandits = bandits
        app.state.registry.on_deployment = lambda d: incidents.add_deployment(
            d.model, f"{d.kind}: {d.model} champion {d.version} (by {d.actor})", d.at
        )
        engine.on_alerts = incidents.on_alerts
        receivers = Receivers()
        alert_loop = AlertLoop(engine, worker, receivers, config)
        app.state.detectors.on_point = lambda _point: alert_loop.wake()

        def after_tick() -> None:
            alert_loop.wake()
            experiments.check_running()  # early stopping for harm, at most once a minute
            rollouts.tick()  # hold, advance, promote or roll back every running rollout
            bandits.tick()  # re-allocate every running bandit that is due

        background = BackgroundLoop(
            evaluator,
            store,
            clock,
            interval_s=settings.evaluator_interval_s,
            retention_s=settings.retention_days * 86400.0,
            after_tick=after_tick,
        )
        app.state.background = background
        worker.start()
        alert_loop.start()
        background.start()
        try:
            yield
        finally:
            background.close()
            alert_loop.close()
            worker.close()
            receivers.close()
            poster.close()
            alert_store.close()
            app.state.registry.close()  # wakes long-polls before the store closes
            registry_store.close()
            experiment_store.close()
            rollout_store.close()
            bandit_store.close()
            windows.close()  # writes every open minute before the store closes
            series.close()
            store.close()
            metadata.close()

    app = FastAPI(
        title="mlpulse collector",
        version=version("mlpulse"),
        description="Ingest, store and report on ML predictions, labels and outcomes.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.metrics = CollectorMetrics()
    install_error_handlers(app)
    app.include_router(system_routes.router)
    app.include_router(ingest_routes.router)
    app.include_router(model_routes.router)
    app.include_router(key_routes.router)
    app.include_router(reference_routes.router)
    app.include_router(series_routes.router)
    app.include_router(config_routes.router)
    app.include_router(alert_routes.router)
    app.include_router(incident_routes.router)
    app.include_router(registry_routes.router)
    app.include_router(experiment_routes.router)
    app.include_router(rollout_routes.router)
    app.include_router(bandit_routes.router)
    app.include_router(dashboard.router)  # the web UI at / (after the API's routes)
    install_openapi(
        app,
        [
            Batch,
            IngestResult,
            ErrorBody,
            ModelInfo,
            ModelSummary,
            model_routes.ModelList,
            model_routes.SchemaOverrides,
            key_routes.KeyRequest,
            key_routes.KeyView,
            key_routes.KeyList,
            reference_routes.ReferenceView,
            reference_routes.PinnedWindow,
            series_routes.QueryResult,
            series_routes.TickResult,
            config_routes.AppliedConfig,
            alert_routes.AlertList,
            incident_routes.IncidentView,
            incident_routes.IncidentList,
            incident_routes.NoteRequest,
            incident_routes.ApprovalList,
            alert_routes.SilenceRequest,
            alert_routes.SilenceList,
            alert_routes.OutboxList,
            alert_routes.TickResult,
            config_routes.ApplyResult,
            ModelVersion,
            RoutingTable,
            Deployment,
            registry_routes.VersionRequest,
            registry_routes.RoutingRequest,
            registry_routes.PromoteRequest,
            registry_routes.RollbackRequest,
            registry_routes.RegistryView,
            registry_routes.DeploymentList,
            ExperimentSpec,
            ExperimentResults,
            Assignment,
            experiment_routes.ExperimentList,
            experiment_routes.StopRequest,
            Rollout,
            rollout_routes.RolloutRequest,
            rollout_routes.RolloutList,
            Bandit,
            bandit_routes.BanditRequest,
            bandit_routes.BanditStopRequest,
            bandit_routes.BanditList,
        ],
    )
    return app
