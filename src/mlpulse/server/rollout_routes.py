"""``/v1/rollouts``: start a champion–challenger rollout, list and read them, tick one now.

Thin: each route decodes its input with msgspec and calls
:class:`mlpulse.services.rollouts.Rollouts` in a worker thread. The collector's background
loop ticks every running rollout; ``POST /v1/rollouts/{id}/tick`` decides at once.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlpulse.core.experiments.rollout import RolloutPlan
from mlpulse.domain.auth import Scope
from mlpulse.domain.registry import Name
from mlpulse.errors import InvalidInputError, ParameterError
from mlpulse.server.auth import require
from mlpulse.server.bodies import json_response, read_json
from mlpulse.server.openapi import body_schema, response_schema
from mlpulse.services.rollouts import Rollout, RolloutMetric, Rollouts

router = APIRouter(tags=["rollouts"])


class PlanRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    steps: list[int] = msgspec.field(default_factory=lambda: [1, 5, 25, 50, 100])
    min_units_per_step: int = 1000
    max_units_per_step: int | None = None
    alpha: float = 0.05


class RolloutRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Start moving ``challenger`` (a registered version) through ``plan.steps``."""

    model: Name
    challenger: Name
    primary: RolloutMetric
    guardrails: list[RolloutMetric] = []
    plan: PlanRequest = msgspec.field(default_factory=PlanRequest)
    exposure: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] = "exposure"


class RolloutList(msgspec.Struct, frozen=True):
    rollouts: list[Rollout]


def _rollouts(request: Request) -> Rollouts:
    rollouts: Rollouts = request.app.state.rollouts
    return rollouts


@router.post(
    "/v1/rollouts",
    summary="Start a rollout: the challenger gets the first step's share",
    status_code=201,
    openapi_extra={**body_schema(RolloutRequest, msgpack=False), **response_schema(Rollout)},
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def start(request: Request) -> Response:
    body = await read_json(request, RolloutRequest)
    p = body.plan
    try:
        plan = RolloutPlan(tuple(p.steps), p.min_units_per_step, p.max_units_per_step, p.alpha)
    except ParameterError as exc:  # name the request's field, as every other 422 does
        name = re.search(r"The '(\w+)' parameter", str(exc))
        field = f"plan.{name.group(1)}" if name else "plan"
        raise InvalidInputError(f"{field}: {exc}", field=field) from exc
    started = await run_in_threadpool(
        lambda: _rollouts(request).start(
            body.model, body.challenger, primary=body.primary, guardrails=body.guardrails,
            plan=plan, exposure=body.exposure,
        )
    )  # fmt: skip
    return json_response(started, 201)


@router.get(
    "/v1/rollouts",
    summary="Every rollout, oldest first",
    openapi_extra=response_schema(RolloutList),
    dependencies=[Depends(require(Scope.READ))],
)
async def list_rollouts(request: Request) -> Response:
    return json_response(RolloutList(await run_in_threadpool(_rollouts(request).list)))


@router.get(
    "/v1/rollouts/{rollout_id}",
    summary="One rollout, with every decision on its timeline",
    openapi_extra=response_schema(Rollout),
    dependencies=[Depends(require(Scope.READ))],
)
async def show(request: Request, rollout_id: str) -> Response:
    return json_response(await run_in_threadpool(_rollouts(request).get, rollout_id))


@router.post(
    "/v1/rollouts/{rollout_id}/tick",
    summary="Decide now: hold, advance, promote or roll back",
    openapi_extra=response_schema(Rollout),
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def tick(request: Request, rollout_id: str) -> Response:
    done = await run_in_threadpool(_rollouts(request).tick, rollout_id)
    return json_response(done[0])
