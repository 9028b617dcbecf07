"""``/v1/experiments``: create, start and stop experiments, assign units, read results.

Thin: each route decodes its input with msgspec and calls
:class:`mlpulse.services.experiments.Experiments` in a worker thread.
``GET /v1/experiments/{name}/assignment`` admits ``read`` or ``ingest`` keys, so serving
code (which holds an ingest key) can ask for a unit's variant.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from mlpulse.adapters.export.experiment_report import experiment_html
from mlpulse.domain.auth import ApiKey, Scope
from mlpulse.domain.experiments import Assignment, ExperimentResults, ExperimentSpec
from mlpulse.errors import ForbiddenError
from mlpulse.server.auth import Authenticator, require, token_from_headers
from mlpulse.server.bodies import json_response, read_json
from mlpulse.server.openapi import body_schema, response_schema
from mlpulse.services.experiments import Experiments

router = APIRouter(tags=["experiments"])
AdminKey = Annotated[ApiKey, Depends(require(Scope.ADMIN))]


class ExperimentList(msgspec.Struct, frozen=True):
    experiments: list[ExperimentSpec]


class StopRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


def _read_or_ingest() -> Callable[[Request], Awaitable[ApiKey]]:
    """Admits keys with the ``read`` or the ``ingest`` scope (or ``admin``)."""

    async def dependency(request: Request) -> ApiKey:
        auth: Authenticator = request.app.state.auth
        token = token_from_headers(
            request.headers.get("authorization"), request.headers.get("x-api-key")
        )
        try:
            return auth.authenticate(token, Scope.READ)
        except ForbiddenError:
            pass
        try:
            return auth.authenticate(token, Scope.INGEST)
        except ForbiddenError as exc:
            has = str(exc).partition("; ")[2]
            raise ForbiddenError(
                "this action needs the 'read' or 'ingest' scope" + (f"; {has}" if has else "")
            ) from None

    return dependency


def _experiments(request: Request) -> Experiments:
    experiments: Experiments = request.app.state.experiments
    return experiments


@router.post(
    "/v1/experiments",
    summary="Create an experiment (as a draft)",
    status_code=201,
    openapi_extra={**body_schema(ExperimentSpec, msgpack=False), **response_schema(ExperimentSpec)},
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def create(request: Request) -> Response:
    spec = await read_json(request, ExperimentSpec)
    created = await run_in_threadpool(_experiments(request).create, spec)
    return json_response(created, 201)


@router.get(
    "/v1/experiments",
    summary="Every experiment, oldest first",
    openapi_extra=response_schema(ExperimentList),
    dependencies=[Depends(require(Scope.READ))],
)
async def list_experiments(request: Request) -> Response:
    found = await run_in_threadpool(_experiments(request).list)
    return json_response(ExperimentList(found))


@router.get(
    "/v1/experiments/{name}",
    summary="One experiment",
    openapi_extra=response_schema(ExperimentSpec),
    dependencies=[Depends(require(Scope.READ))],
)
async def show(request: Request, name: str) -> Response:
    return json_response(await run_in_threadpool(_experiments(request).get, name))


@router.post(
    "/v1/experiments/{name}/start",
    summary="Start a draft experiment: units are enrolled from now on",
    openapi_extra=response_schema(ExperimentSpec),
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def start(request: Request, name: str) -> Response:
    return json_response(await run_in_threadpool(_experiments(request).start, name))


@router.post(
    "/v1/experiments/{name}/stop",
    summary="Stop an experiment (every unit gets the control afterwards)",
    openapi_extra={**body_schema(StopRequest, msgpack=False), **response_schema(ExperimentSpec)},
)
async def stop(request: Request, name: str, key: AdminKey) -> Response:
    empty = request.headers.get("content-length") in (None, "0")
    body = StopRequest() if empty else await read_json(request, StopRequest)
    reason = body.reason or f"stopped by {key.name or key.key_id}"
    return json_response(await run_in_threadpool(_experiments(request).stop, name, reason))


@router.get(
    "/v1/experiments/{name}/results",
    summary="Per variant and metric: estimate, interval, p-value or chance to beat, SRM, verdict",
    openapi_extra=response_schema(ExperimentResults),
    dependencies=[Depends(require(Scope.READ))],
)
async def results(request: Request, name: str) -> Response:
    return json_response(await run_in_threadpool(_experiments(request).results, name))


@router.get(
    "/v1/experiments/{name}/report",
    summary="The results as a self-contained HTML page",
    response_class=HTMLResponse,
    dependencies=[Depends(require(Scope.READ))],
)
async def report(request: Request, name: str) -> HTMLResponse:
    found = await run_in_threadpool(_experiments(request).results, name)
    return HTMLResponse(experiment_html(found))


@router.get(
    "/v1/experiments/{name}/assignment",
    summary="A unit's variant and model version (the control when not running)",
    openapi_extra=response_schema(Assignment),
    dependencies=[Depends(_read_or_ingest())],
)
async def assignment(
    request: Request,
    name: str,
    unit: str = Query(..., min_length=1, max_length=500, description="The unit id"),
) -> Response:
    return json_response(await run_in_threadpool(_experiments(request).assignment, name, unit))
