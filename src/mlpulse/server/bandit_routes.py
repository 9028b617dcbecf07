"""``/v1/bandits``: start a bandit over a model's versions, list, read, tick and stop them.

Thin: each route decodes its input with msgspec and calls
:class:`mlpulse.services.bandits.Bandits` in a worker thread. The collector's background
loop ticks each running bandit every ``every``; ``POST /v1/bandits/{id}/tick`` re-allocates
at once.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlpulse.domain.auth import ApiKey, Scope
from mlpulse.domain.registry import Name
from mlpulse.server.auth import require
from mlpulse.server.bodies import json_response, read_json
from mlpulse.server.openapi import body_schema, response_schema
from mlpulse.services.bandits import Bandit, BanditReward, Bandits

router = APIRouter(tags=["bandits"])
AdminKey = Annotated[ApiKey, Depends(require(Scope.ADMIN))]


class BanditRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Start a bandit: ``policy`` is ``thompson``, ``ucb1`` or ``epsilon_greedy``; ``floor``
    the least share of traffic every version keeps; ``every`` how often it re-allocates."""

    model: Name
    versions: Annotated[list[Name], msgspec.Meta(min_length=2, max_length=20)]
    reward: BanditReward
    policy: str = "thompson"
    floor: float = 0.05
    every: str = "5m"
    exposure: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] = "exposure"
    seed: int | None = None


class BanditStopRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class BanditList(msgspec.Struct, frozen=True):
    bandits: list[Bandit]


def _bandits(request: Request) -> Bandits:
    bandits: Bandits = request.app.state.bandits
    return bandits


@router.post(
    "/v1/bandits",
    summary="Start a bandit: its first allocation routes the model's traffic",
    status_code=201,
    openapi_extra={**body_schema(BanditRequest, msgpack=False), **response_schema(Bandit)},
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def start(request: Request) -> Response:
    body = await read_json(request, BanditRequest)
    started = await run_in_threadpool(
        lambda: _bandits(request).start(
            body.model, body.versions, policy=body.policy, reward=body.reward,
            floor=body.floor, every=body.every, exposure=body.exposure, seed=body.seed,
        )
    )  # fmt: skip
    return json_response(started, 201)


@router.get(
    "/v1/bandits",
    summary="Every bandit, oldest first",
    openapi_extra=response_schema(BanditList),
    dependencies=[Depends(require(Scope.READ))],
)
async def list_bandits(request: Request) -> Response:
    return json_response(BanditList(await run_in_threadpool(_bandits(request).list)))


@router.get(
    "/v1/bandits/{bandit_id}",
    summary="One bandit: per-version statistics and the history of its weights",
    openapi_extra=response_schema(Bandit),
    dependencies=[Depends(require(Scope.READ))],
)
async def show(request: Request, bandit_id: str) -> Response:
    return json_response(await run_in_threadpool(_bandits(request).get, bandit_id))


@router.post(
    "/v1/bandits/{bandit_id}/tick",
    summary="Re-allocate now from the rewards so far",
    openapi_extra=response_schema(Bandit),
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def tick(request: Request, bandit_id: str) -> Response:
    done = await run_in_threadpool(_bandits(request).tick, bandit_id)
    return json_response(done[0])


@router.post(
    "/v1/bandits/{bandit_id}/stop",
    summary="Stop re-allocating (the routing table keeps the last weights)",
    openapi_extra={**body_schema(BanditStopRequest, msgpack=False), **response_schema(Bandit)},
)
async def stop(request: Request, bandit_id: str, key: AdminKey) -> Response:
    empty = request.headers.get("content-length") in (None, "0")
    body = BanditStopRequest() if empty else await read_json(request, BanditStopRequest)
    reason = body.reason or f"stopped by {key.name or key.key_id}"
    return json_response(await run_in_threadpool(_bandits(request).stop, bandit_id, reason))
