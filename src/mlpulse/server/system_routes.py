"""Health checks, ``/metrics``, and the API documentation (served offline)."""

from __future__ import annotations

from importlib import resources
from typing import Final

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import HTMLResponse, JSONResponse, Response

from mlpulse.domain.auth import Scope
from mlpulse.errors import NotFoundError
from mlpulse.ports import EventStore
from mlpulse.server.metrics import CollectorMetrics

from .auth import require

router = APIRouter()

# Swagger UI's files come from the fastapi-offline package (installed from PyPI), so
# /docs works without reaching a CDN.
_DOC_ASSETS: Final = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


@router.get("/healthz", include_in_schema=False)
async def healthz() -> JSONResponse:
    """Liveness: the process answers. Needs no key."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the store accepts writes. Needs no key."""
    store: EventStore | None = getattr(request.app.state, "store", None)
    if store is None or not store.is_healthy():
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get(
    "/v1/cluster",
    summary="This replica and the leader",
    dependencies=[Depends(require(Scope.READ))],
)
async def cluster(request: Request) -> JSONResponse:
    """Which replica answered, whether it leads, and where the leader answers (for
    operators and load balancers; the embedded store's one process always leads)."""
    leadership = request.app.state.leadership
    leader = bool(leadership.is_leader)
    return JSONResponse(
        {
            "replica": getattr(leadership, "name", "local"),
            "leader": leader,
            "leader_url": None if leader else leadership.leader_url(),
        }
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    dependencies=[Depends(require(Scope.READ))],
    response_class=Response,
)
async def metrics(request: Request) -> Response:
    collector: CollectorMetrics = request.app.state.metrics
    return Response(generate_latest(collector.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require(Scope.READ))])
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False, dependencies=[Depends(require(Scope.READ))])
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="mlpulse API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon.png",
    )


@router.get(
    "/docs/assets/{name}", include_in_schema=False, dependencies=[Depends(require(Scope.READ))]
)
async def doc_asset(name: str) -> Response:
    media_type = _DOC_ASSETS.get(name)
    if media_type is None:
        raise NotFoundError(f"no documentation asset named {name!r}")
    data = resources.files("fastapi_offline").joinpath("static", name).read_bytes()
    return Response(data, media_type=media_type, headers={"Cache-Control": "max-age=86400"})
