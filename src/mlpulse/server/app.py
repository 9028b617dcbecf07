"""``create_app(settings)``: the collector, composed from a storage backend and the services
built on its ports (:mod:`mlpulse.server.wiring`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI

from mlpulse.adapters.clock import SystemClock
from mlpulse.adapters.store.factory import open_backend
from mlpulse.domain.bandits import Bandit
from mlpulse.domain.events import Batch
from mlpulse.domain.experiments import Assignment, ExperimentResults, ExperimentSpec
from mlpulse.domain.ingest import IngestResult
from mlpulse.domain.models import ModelInfo, ModelSummary
from mlpulse.domain.registry import Deployment, ModelVersion, RoutingTable
from mlpulse.domain.rollouts import Rollout
from mlpulse.ports import Clock
from mlpulse.server import (
    admin_routes,
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
    slo_routes,
    system_routes,
)
from mlpulse.server.errors import ErrorBody, install_error_handlers
from mlpulse.server.ingest import routes as ingest_routes
from mlpulse.server.leader_forwarding import LeaderForwarding
from mlpulse.server.metrics import CollectorMetrics
from mlpulse.server.openapi import install_openapi
from mlpulse.server.otlp import routes as otlp_routes
from mlpulse.server.settings import Settings
from mlpulse.server.wiring import wire


def _leads(app: FastAPI) -> bool:
    leadership = getattr(app.state, "leadership", None)
    return leadership is None or bool(leadership.is_leader)


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """The collector app. The storage backend (``MLPULSE_STORE``) opens when the app
    starts and closes when it stops; the services are built from its ports."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backend = open_backend(settings)
        try:
            running = wire(app.state, backend, settings, app.state.clock, app.state.metrics)
        except BaseException:
            backend.close()
            raise
        running.start()
        try:
            yield
        finally:
            try:
                running.close()
            finally:
                backend.close()

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
    # In a cluster, requests about the leader's state go to the leader (embedded: never).
    app.add_middleware(
        LeaderForwarding,
        is_leader=lambda: _leads(app),
        leader_url=lambda: app.state.leadership.leader_url(),
    )
    app.include_router(system_routes.router)
    app.include_router(ingest_routes.router)
    otlp_routes.install(app)  # POST /v1/traces (OpenTelemetry spans)
    app.include_router(model_routes.router)
    app.include_router(key_routes.router)
    app.include_router(reference_routes.router)
    app.include_router(series_routes.router)
    app.include_router(slo_routes.router)
    app.include_router(config_routes.router)
    app.include_router(alert_routes.router)
    app.include_router(incident_routes.router)
    app.include_router(registry_routes.router)
    app.include_router(experiment_routes.router)
    app.include_router(rollout_routes.router)
    app.include_router(bandit_routes.router)
    app.include_router(admin_routes.router)
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
            slo_routes.SloList,
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
