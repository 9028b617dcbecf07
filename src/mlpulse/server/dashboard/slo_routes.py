"""The SLO page (``/slos``) and its burn-rate charts' JSON."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from mlpulse.errors import NotFoundError
from mlpulse.server.config_routes import applied as applied_config
from mlpulse.server.dashboard.data_routes import chart_json, chart_window
from mlpulse.server.dashboard.guards import current_session, data_session, login_redirect
from mlpulse.server.dashboard.slo_view import burn_chart, slo_card
from mlpulse.server.dashboard.templating import render
from mlpulse.server.dashboard.time_range import time_range
from mlpulse.services.slos import SloService

router = APIRouter(include_in_schema=False)


@router.get("/slos")
def slos_page(request: Request, span: str | None = Query(None, alias="range")) -> Response:
    session = current_session(request)
    if session is None:
        return login_redirect(request)
    state = request.app.state
    service: SloService = state.slos
    window = time_range(span, now=state.clock.now())
    return render(
        request,
        "slos.html",
        session=session,
        nav="slos",
        title="SLOs",
        window=window,
        cards=[slo_card(s) for s in service.states(window.end)],
    )


@router.get("/ui/data/slos/{name}/burn")
def slo_burn_data(
    request: Request,
    name: str,
    span: str | None = Query(None, alias="range"),
    end: float | None = None,
) -> Response:
    data_session(request)
    state = request.app.state
    config = applied_config(state.metadata)
    slo = config.slos.get(name) if config is not None else None
    if slo is None:
        raise NotFoundError(f"no SLO named {name!r}")
    window = chart_window(request, span, end)
    return chart_json(burn_chart(state.series, name, slo, window), window)
