"""The dashboard's pages. Thin: a session check, the view-model queries, a template.

Handlers are plain functions, so FastAPI runs them in its thread pool: the stores they
read are blocking (SQLite, DuckDB).
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from mlpulse.domain.alerts import Alert
from mlpulse.domain.registry import Deployment, ModelVersion, RoutingTable
from mlpulse.domain.window import parse_duration
from mlpulse.errors import InvalidInputError, NotFoundError
from mlpulse.ports import MetadataStore, SeriesStore, TrafficSource
from mlpulse.server.config_routes import applied as applied_config
from mlpulse.server.dashboard.business_view import (
    correlations,
    hourly_cache,
    kpi_lines,
)
from mlpulse.server.dashboard.guards import current_session, login_redirect
from mlpulse.server.dashboard.metric_series import latest_of_model
from mlpulse.server.dashboard.model_charts import CHARTS
from mlpulse.server.dashboard.model_health import known_models, model_health, recent_rate
from mlpulse.server.dashboard.model_tables import (
    quality_rows,
    routing_weights,
    segment_rows,
    version_rows,
)
from mlpulse.server.dashboard.sessions import Session
from mlpulse.server.dashboard.slo_view import budget_badges
from mlpulse.server.dashboard.sparklines import sparkline_cache
from mlpulse.server.dashboard.templating import render
from mlpulse.server.dashboard.time_range import time_range
from mlpulse.server.incident_routes import _draft as postmortem_draft
from mlpulse.services.deployment_impact import DeploymentImpact, impacts
from mlpulse.services.registry import Registry

router = APIRouter(include_in_schema=False)


def _not_found(request: Request, session: Session, message: str) -> Response:
    return render(
        request, "not_found.html", session=session, status=404, message=message, title="Not found"
    )


def _archived(request: Request, model: str) -> set[str]:
    """The versions of ``model`` the registry archived (none when it does not know it)."""
    try:
        versions = request.app.state.registry.versions(model)
    except NotFoundError:
        return set()
    return {v.version for v in versions if v.stage == "archived"}


def _monitor_every(metadata: MetadataStore) -> dict[str, float]:
    """Seconds between two runs of each monitor of the applied config, by name."""
    config = applied_config(metadata)
    if config is None:
        return {}
    every: dict[str, float] = {}
    for name, monitor in config.monitors.items():
        with contextlib.suppress(InvalidInputError):
            every[name] = parse_duration(monitor.every, field="every")
    return every


def overview_rows(request: Request) -> list[Any]:
    state = request.app.state
    series: SeriesStore = state.series
    metadata: MetadataStore = state.metadata
    now = state.clock.now()
    alerts = state.alerts.alerts()
    incidents = state.incidents.incidents()
    models = known_models([m.model for m in metadata.list_models()], series)
    every = _monitor_every(metadata)
    traffic = sparkline_cache(request).traffic(series, now)
    budgets = budget_badges(state.slos.states(now))
    return [
        (
            model_health(
                model,
                latest_of_model(series, model, since=float("-inf"), until=now),
                alerts,
                incidents,
                now=now,
                archived=_archived(request, model),
                every=every,
                rate=recent_rate(state.traffic, model, now=now),
            ),
            traffic.get(model),
            budgets.get(model),
        )
        for model in models
    ]


@router.get("/")
def overview(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return login_redirect(request)
    return render(
        request,
        "overview.html",
        session=session,
        nav="overview",
        title="Models",
        rows=overview_rows(request),
    )


@router.get("/ui/partials/models")
def overview_partial(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return Response(status_code=401)
    return render(request, "_models_rows.html", session=session, rows=overview_rows(request))


def _registry_view(request: Request, model: str) -> tuple[list[ModelVersion], RoutingTable | None]:
    registry = request.app.state.registry
    try:
        return registry.versions(model), registry.table(model)
    except NotFoundError:  # a model that never registered a version: events only
        return [], None


@router.get("/models/{model:path}")
def model_page(
    request: Request, model: str, span: str | None = Query(None, alias="range")
) -> Response:
    session = current_session(request)
    if session is None:
        return login_redirect(request)
    state = request.app.state
    series: SeriesStore = state.series
    metadata: MetadataStore = state.metadata
    info = next((m for m in metadata.list_models() if m.model == model), None)
    registered, table = _registry_view(request, model)
    if info is None and not registered and model not in known_models([], series):
        return _not_found(request, session, f"No model named {model!r}.")
    window = time_range(span, now=state.clock.now())
    points = latest_of_model(series, model, since=window.start, until=window.end)
    alerts: list[Alert] = [a for a in state.alerts.alerts() if a.labels.get("model") == model]
    health = model_health(
        model,
        latest_of_model(series, model, since=float("-inf"), until=window.end),
        alerts,
        state.incidents.incidents(model=model),
        now=window.end,
        archived={v.version for v in registered if v.stage == "archived"},
        every=_monitor_every(metadata),
        rate=recent_rate(state.traffic, model, now=window.end),
    )
    return render(
        request,
        "model.html",
        session=session,
        nav="overview",
        title=model,
        model=model,
        window=window,
        health=health,
        charts=CHARTS,
        versions=version_rows(info, registered, points),
        weights=routing_weights(table),
        table=table,
        quality=quality_rows(points),
        segments=segment_rows(points),
        alerts=alerts,
        deployments=_deployment_impacts(
            state.registry, state.traffic, model, window.start, window.end, now=state.clock.now()
        ),
        impact_span=IMPACT_SPAN,
    )


IMPACT_SPAN = 1800.0  # each side of a deployment on the model page
IMPACTS_SHOWN = 20  # the newest deployments in the range get their before/after measured


def _deployment_impacts(
    registry: Registry, traffic: TrafficSource, model: str, start: float, end: float, *, now: float
) -> list[tuple[Deployment, DeploymentImpact | None]]:
    """The deployments in [start, end], newest first, with the traffic before and after
    the newest :data:`IMPACTS_SHOWN` of them."""
    history = registry.deployments(model=model)
    shown = sorted((d for d in history if start <= d.at <= end), key=lambda d: -d.at)
    measured = impacts(traffic, model, history, shown[:IMPACTS_SHOWN], now=now, span=IMPACT_SPAN)
    return [(d, measured[i] if i < len(measured) else None) for i, d in enumerate(shown)]


@router.get("/alerts")
def alerts_page(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return login_redirect(request)
    state = request.app.state
    now = state.clock.now()
    silences = sorted(state.alert_store.silences(), key=lambda s: -s.ends_at)
    return render(
        request,
        "alerts.html",
        session=session,
        nav="alerts",
        title="Alerts",
        alerts=state.alerts.alerts(),
        silences=[s for s in silences if s.ends_at > now],
    )


@router.get("/ui/partials/alerts")
def alerts_partial(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return Response(status_code=401)
    return render(
        request, "_alert_rows.html", session=session, alerts=request.app.state.alerts.alerts()
    )


@router.get("/incidents")
def incidents_page(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return login_redirect(request)
    incidents = sorted(request.app.state.incidents.incidents(), key=lambda i: -i.opened_at)
    return render(
        request,
        "incidents.html",
        session=session,
        nav="incidents",
        title="Incidents",
        incidents=incidents,
    )


@router.get("/incidents/{incident_id}")
def incident_page(request: Request, incident_id: str) -> Response:
    session = current_session(request)
    if session is None:
        return login_redirect(request)
    try:
        incident = request.app.state.incidents.get(incident_id)
    except NotFoundError:
        return _not_found(request, session, f"No incident {incident_id!r}.")
    alerts = {a.fingerprint: a for a in request.app.state.alerts.alerts()}
    return render(
        request,
        "incident.html",
        session=session,
        nav="incidents",
        title=incident.title,
        incident=incident,
        alerts=[alerts[fp] for fp in incident.alerts if fp in alerts],
        postmortem=postmortem_draft(request, incident),
    )


@router.get("/experiments")
def experiments_page(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return login_redirect(request)
    experiments = request.app.state.experiments.list()
    return render(
        request,
        "experiments.html",
        session=session,
        nav="experiments",
        title="Experiments",
        experiments=experiments,
    )


@router.get("/experiments/{name}")
def experiment_page(request: Request, name: str) -> Response:
    session = current_session(request)
    if session is None:
        return login_redirect(request)
    try:
        results = request.app.state.experiments.results(name)
    except NotFoundError:
        return _not_found(request, session, f"No experiment named {name!r}.")
    return render(
        request,
        "experiment.html",
        session=session,
        nav="experiments",
        title=name,
        results=results,
        spec=results.experiment,
    )


@router.get("/business")
def business_page(
    request: Request,
    model: str | None = None,
    span: str | None = Query(None, alias="range"),
) -> Response:
    session = current_session(request)
    if session is None:
        return login_redirect(request)
    state = request.app.state
    with_outcomes = state.traffic.outcome_models()
    models = sorted(
        set(with_outcomes) | set(known_models([m.model for m in state.metadata.list_models()],
                                              state.series))
    )  # fmt: skip
    chosen: str | None = model if model in models else next(iter(with_outcomes or models), None)
    window = time_range(span, now=state.clock.now())
    kpis = kpi_lines(state.traffic, chosen, window) if chosen else {}
    technical = hourly_cache(request).technical(state.series, chosen, window) if chosen else {}
    return render(
        request,
        "business.html",
        session=session,
        nav="business",
        title="Business",
        models=models,
        model=chosen,
        window=window,
        kpis=kpis,
        correlations=correlations(kpis, technical),
    )
