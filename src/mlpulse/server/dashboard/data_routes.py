"""The charts' JSON (``data-src``): one endpoint per chart, 401 without a session."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from mlpulse.errors import NotFoundError
from mlpulse.server.bodies import json_response
from mlpulse.server.dashboard.business_view import (
    TECHNICAL_PANELS,
    hourly_cache,
    kpi_lines,
    kpi_panels,
)
from mlpulse.server.dashboard.chart_data import line_chart
from mlpulse.server.dashboard.experiment_view import estimates_chart, sequential_chart
from mlpulse.server.dashboard.guards import data_session
from mlpulse.server.dashboard.model_charts import deployment_markers, model_chart
from mlpulse.server.dashboard.time_range import TimeRange, time_range

router = APIRouter(include_in_schema=False)


def chart_window(request: Request, span: str | None, end: float | None) -> TimeRange:
    """The range ``span`` ending at ``end`` (the page's moment, so that every chart of a
    page spans the same range), never later than the collector's clock's now."""
    now: float = request.app.state.clock.now()
    at = now if end is None or not math.isfinite(end) else min(end, now)
    return time_range(span, now=at)


def chart_json(body: dict[str, Any], window: TimeRange | None = None) -> Response:
    """``body`` as JSON; with ``window``, its range as every time axis's span."""
    if window is not None:
        body["range"] = window.key
        body["x_range"] = [round(window.start * 1000), round(window.end * 1000)]
    response = json_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/ui/data/models/{model:path}/{chart}")
def model_chart_data(
    request: Request,
    model: str,
    chart: str,
    span: str | None = Query(None, alias="range"),
    end: float | None = None,
) -> Response:
    data_session(request)
    state = request.app.state
    window = chart_window(request, span, end)
    markers = deployment_markers(state.registry.deployments(model=model), window)
    first_seen: dict[str, float] = {}
    if chart == "performance":
        info = next((m for m in state.metadata.list_models() if m.model == model), None)
        first_seen = {v.version: v.first_seen for v in info.versions} if info else {}
    body = model_chart(chart, state.series, model, window, markers, first_seen=first_seen)
    if body is None:
        raise NotFoundError(f"no chart named {chart!r}")
    return chart_json(body, window)


@router.get("/ui/data/experiments/{name}/{chart}")
def experiment_chart_data(request: Request, name: str, chart: str) -> Response:
    data_session(request)
    state = request.app.state
    if chart == "estimates":
        return chart_json(estimates_chart(state.experiments.results(name)))
    if chart == "sequential":
        spec = state.experiments.get(name)
        return chart_json(sequential_chart(spec, state.experiment_outcomes, state.clock))
    raise NotFoundError(f"no chart named {chart!r}")


@router.get("/ui/data/business/{chart}")
def business_chart_data(
    request: Request,
    chart: str,
    model: str,
    span: str | None = Query(None, alias="range"),
    end: float | None = None,
) -> Response:
    data_session(request)
    state = request.app.state
    window = chart_window(request, span, end)
    if chart == "kpis":
        kpis = kpi_lines(state.traffic, model, window)
        return chart_json(line_chart(kpis, unit="per hour", panels=kpi_panels(kpis)), window)
    if chart == "technical":
        lines = hourly_cache(request).technical(state.series, model, window)
        return chart_json(line_chart(lines, unit="", panels=TECHNICAL_PANELS), window)
    raise NotFoundError(f"no chart named {chart!r}")
