"""``/v1/registry``, ``/v1/deployments`` and ``/v1/routing``: the model registry over HTTP.

``GET /v1/routing/{model}`` is what the SDK router polls. It answers with an
``ETag`` (``"<revision>"``, with a digest of the unhealthy versions when there are any:
:func:`~mlpulse.domain.registry.health_tag`); a request with ``If-None-Match`` equal to
it and ``?wait=<s>`` is held until the table or the versions' health changes (200 with
the new table) or ``wait`` passes (304). Every routing table served carries each
version's health (:mod:`mlpulse.server.routing_health`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

import anyio
import anyio.to_thread
import msgspec
from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlpulse.domain.auth import ApiKey, Scope
from mlpulse.domain.registry import (
    Deployment,
    ModelVersion,
    Name,
    RoutingEntry,
    RoutingTable,
    health_tag,
)
from mlpulse.domain.window import parse_duration
from mlpulse.errors import ForbiddenError, NotFoundError
from mlpulse.ports import TrafficSource
from mlpulse.server.auth import Authenticator, require, token_from_headers
from mlpulse.server.bodies import json_response, read_json
from mlpulse.server.openapi import body_schema, response_schema
from mlpulse.server.routing_health import RoutingHealth
from mlpulse.services.deployment_impact import DeploymentImpactList, impacts
from mlpulse.services.registry import Registry

router = APIRouter(tags=["registry"])
AdminKey = Annotated[ApiKey, Depends(require(Scope.ADMIN))]

MAX_WAIT_S = 30.0
# Long-polls wait in threads of their own pool, so that many serving processes holding a
# poll open never take the threads every other route runs in. Past this many waiters a
# poll answers after a short sleep instead of holding a thread.
MAX_WAITERS = 256


class VersionRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: Name
    artifact_uri: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class RoutingRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """New stages and weights of the listed versions; unlisted versions keep theirs."""

    versions: list[RoutingEntry]
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class PromoteRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: Name
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class RollbackRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Without ``version``: the most recent earlier champion."""

    version: Name | None = None
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class RegistryView(msgspec.Struct, frozen=True):
    model: str
    versions: list[ModelVersion]
    routing: RoutingTable


class DeploymentList(msgspec.Struct, frozen=True):
    deployments: list[Deployment]


def require_any(*scopes: Scope) -> Callable[[Request], Awaitable[ApiKey]]:
    """A dependency that admits keys with any of ``scopes`` (or ``admin``)."""
    names = " or ".join(repr(scope.value) for scope in scopes)

    async def dependency(request: Request) -> ApiKey:
        auth: Authenticator = request.app.state.auth
        token = token_from_headers(
            request.headers.get("authorization"), request.headers.get("x-api-key")
        )
        refused: ForbiddenError | None = None
        for scope in scopes:
            try:
                return auth.authenticate(token, scope)
            except ForbiddenError as exc:
                refused = exc
        has = str(refused).partition("; ")[2]
        raise ForbiddenError(f"this action needs the {names} scope" + (f"; {has}" if has else ""))

    return dependency


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def _actor(key: ApiKey) -> str:
    return key.name or key.key_id


def _health(request: Request) -> RoutingHealth:
    health: RoutingHealth | None = getattr(request.app.state, "routing_health", None)
    if health is None:
        engine = getattr(request.app.state, "alerts", None)
        health = RoutingHealth(None if engine is None else engine.alerts)
        request.app.state.routing_health = health
    return health


def _table(request: Request, model: str) -> RoutingTable:
    """The model's routing table with its versions' health read now (blocking: run in a
    thread)."""
    return _health(request).attach(_registry(request).table(model), max_age=0.0)


def _matches(if_none_match: str | None, tag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return tag in tags


def _wait_step(request: Request, table: RoutingTable, seconds: float) -> tuple[RoutingTable, bool]:
    """Wait up to ``seconds`` for a new revision; the table with health, and whether the
    registry is closing (it answered before the time was up with the same revision)."""
    started = time.monotonic()
    fresh = _registry(request).wait_for_change(table.model, table.revision, seconds)
    closing = fresh.revision == table.revision and time.monotonic() - started < seconds
    return _health(request).attach(fresh), closing


async def _wait(request: Request, table: RoutingTable, wait: float) -> RoutingTable:
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "routing_waiters", None)
    if limiter is None:
        limiter = request.app.state.routing_waiters = anyio.CapacityLimiter(MAX_WAITERS)
    if limiter.available_tokens < 1:
        await anyio.sleep(min(wait, 1.0))
        return await run_in_threadpool(_table, request, table.model)
    # Held in steps: a revision change ends a step at once; health (read from the alert
    # engine, which has no change notification here) is looked at again after each step.
    tag = health_tag(table)
    deadline = time.monotonic() + wait
    while True:
        step = max(0.0, min(deadline - time.monotonic(), _health(request).max_age))
        fresh, closing = await anyio.to_thread.run_sync(
            _wait_step, request, table, step, abandon_on_cancel=True, limiter=limiter
        )
        if closing or health_tag(fresh) != tag or time.monotonic() >= deadline:
            return fresh


@router.post(
    "/v1/registry/{model:path}/versions",
    summary="Register a version (shadow at weight 0; a model's first is champion at 100)",
    status_code=201,
    openapi_extra={**body_schema(VersionRequest, msgpack=False), **response_schema(ModelVersion)},
)
async def register_version(request: Request, model: str, key: AdminKey) -> Response:
    body = await read_json(request, VersionRequest)
    registry = _registry(request)
    added = await run_in_threadpool(
        lambda: registry.register(
            model, body.version, body.artifact_uri, body.metadata, actor=_actor(key)
        )
    )
    return json_response(added, 201)


@router.get(
    "/v1/registry/{model:path}",
    summary="A model's versions and routing table",
    openapi_extra=response_schema(RegistryView),
    dependencies=[Depends(require(Scope.READ))],
)
async def show_model(request: Request, model: str) -> Response:
    registry = _registry(request)
    versions = await run_in_threadpool(registry.versions, model)
    table = await run_in_threadpool(_table, request, model)
    return json_response(RegistryView(model=model, versions=versions, routing=table))


@router.put(
    "/v1/registry/{model:path}/routing",
    summary="Set stages and traffic weights (champion + challengers sum to 100)",
    openapi_extra={**body_schema(RoutingRequest, msgpack=False), **response_schema(RoutingTable)},
)
async def set_routing(request: Request, model: str, key: AdminKey) -> Response:
    body = await read_json(request, RoutingRequest)
    registry = _registry(request)
    table = await run_in_threadpool(
        lambda: registry.set_routing(model, body.versions, actor=_actor(key), reason=body.reason)
    )
    return json_response(await run_in_threadpool(_health(request).attach, table, max_age=0.0))


@router.post(
    "/v1/registry/{model:path}/promote",
    summary="Make a version champion at 100 (the old champion stays as challenger at 0)",
    openapi_extra={**body_schema(PromoteRequest, msgpack=False), **response_schema(RoutingTable)},
)
async def promote(request: Request, model: str, key: AdminKey) -> Response:
    body = await read_json(request, PromoteRequest)
    registry = _registry(request)
    table = await run_in_threadpool(
        lambda: registry.promote(model, body.version, actor=_actor(key), reason=body.reason)
    )
    return json_response(await run_in_threadpool(_health(request).attach, table, max_age=0.0))


@router.post(
    "/v1/registry/{model:path}/rollback",
    summary="Restore the previous (or the given) champion; the failing one is archived",
    openapi_extra={**body_schema(RollbackRequest, msgpack=False), **response_schema(RoutingTable)},
)
async def rollback(request: Request, model: str, key: AdminKey) -> Response:
    body = await read_json(request, RollbackRequest)
    registry = _registry(request)
    table = await run_in_threadpool(
        lambda: registry.rollback(
            model, actor=_actor(key), to_version=body.version, reason=body.reason
        )
    )
    return json_response(await run_in_threadpool(_health(request).attach, table, max_age=0.0))


@router.get(
    "/v1/deployments",
    summary="Deployment events (registrations, stage and weight changes, promotions, rollbacks)",
    openapi_extra=response_schema(DeploymentList),
    dependencies=[Depends(require(Scope.READ))],
)
async def deployments(
    request: Request,
    model: str | None = Query(None, description="Only this model's events"),
    since: float | None = Query(None, description="Events at or after, seconds since the epoch"),
) -> Response:
    registry = _registry(request)
    found = await run_in_threadpool(registry.deployments, model, since)
    return json_response(DeploymentList(found))


@router.get(
    "/v1/deployments/impact",
    summary="A model's traffic before and after each deployment (throughput, errors, p99)",
    openapi_extra=response_schema(DeploymentImpactList),
    dependencies=[Depends(require(Scope.READ))],
)
async def deployment_impact(
    request: Request,
    model: str = Query(description="The model"),
    since: float | None = Query(None, description="Deployments at or after (epoch seconds)"),
    span: str = Query("30m", description="The longest window on each side: 5m, 30m, 1h"),
    limit: int = Query(50, ge=1, le=500, description="At most this many, the newest"),
) -> Response:
    seconds = parse_duration(span, field="span")
    registry = _registry(request)
    traffic: TrafficSource = request.app.state.traffic
    now = request.app.state.clock.now()

    def measure() -> DeploymentImpactList:
        history = registry.deployments(model)
        if not history:
            raise NotFoundError(f"no model named {model!r} in the registry")
        shown = [d for d in history if since is None or d.at >= since][-limit:]
        return DeploymentImpactList(
            seconds, impacts(traffic, model, history, shown, now=now, span=seconds)
        )

    return json_response(await run_in_threadpool(measure))


@router.get(
    "/v1/routing/{model:path}",
    summary=(
        "The routing table the SDK router polls, with each version's health "
        "(ETag; long-poll with If-None-Match + wait)"
    ),
    openapi_extra=response_schema(RoutingTable),
    dependencies=[Depends(require_any(Scope.READ, Scope.INGEST))],
)
async def routing_table(
    request: Request,
    model: str,
    wait: float = Query(
        0.0, ge=0.0, le=MAX_WAIT_S, description="Seconds to hold a request whose ETag matches"
    ),
    if_none_match: str | None = Header(None),
) -> Response:
    table = await run_in_threadpool(_table, request, model)
    if _matches(if_none_match, health_tag(table)) and wait > 0:
        table = await _wait(request, table, wait)
    tag = health_tag(table)
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    if _matches(if_none_match, tag):
        return Response(status_code=304, headers=headers)
    response = json_response(table)
    response.headers.update(headers)
    return response
