"""``GET /v1/slos``: each SLO of the applied ``mlpulse.yaml`` with its state now."""

from __future__ import annotations

import math

import msgspec
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlpulse.core.slo import SloStatusResult
from mlpulse.domain.auth import Scope
from mlpulse.server.auth import require
from mlpulse.server.bodies import json_response
from mlpulse.server.openapi import response_schema
from mlpulse.services.slos import SloService, SloState

router = APIRouter(tags=["slos"])


class BurnAlertView(msgspec.Struct, frozen=True):
    """One burn-rate alert: its windows, threshold, the burn rate both reach, firing."""

    long: str
    short: str
    burn_rate: float
    severity: str
    rate: float
    firing: bool


class VersionView(msgspec.Struct, frozen=True):
    """One version's own share of an SLO of every version."""

    good: int
    total: int
    sli: float | None
    error_budget_remaining: float
    time_to_exhaustion_s: float | None
    burn_rates: dict[str, float]


class SloView(msgspec.Struct, frozen=True):
    """An SLO now. ``sli`` is null before its period has an event; ``time_to_exhaustion_s``
    (at the last hour's burn rate) is null while the budget is not burning."""

    name: str
    model: str
    version: str | None
    objective: float
    period: str
    sli_kind: str
    good: int
    total: int
    sli: float | None
    error_budget_remaining: float
    time_to_exhaustion_s: float | None
    burn_rates: dict[str, float]
    alerts: list[BurnAlertView]
    versions: dict[str, VersionView]


class SloList(msgspec.Struct, frozen=True):
    slos: list[SloView]


def _version(state: SloState, status: SloStatusResult) -> VersionView:
    return VersionView(
        good=status.good,
        total=status.total,
        sli=None if math.isnan(status.sli) else status.sli,
        error_budget_remaining=status.budget_remaining,
        time_to_exhaustion_s=(
            None if math.isinf(status.time_to_exhaustion_s) else status.time_to_exhaustion_s
        ),
        burn_rates={state.windows[s]: rate for s, rate in status.burn_rates.items()},
    )


def _view(state: SloState) -> SloView:
    slo, own = state.slo, _version(state, state.status)
    return SloView(
        name=state.name,
        model=slo.model,
        version=slo.version,
        objective=slo.objective,
        period=slo.period,
        sli_kind=slo.sli.kind,
        good=own.good,
        total=own.total,
        sli=own.sli,
        error_budget_remaining=own.error_budget_remaining,
        time_to_exhaustion_s=own.time_to_exhaustion_s,
        burn_rates=own.burn_rates,
        alerts=[
            BurnAlertView(a.long, a.short, a.burn_rate, a.severity, r.rate, r.firing)
            for a, r in zip(slo.burn_alerts, state.status.alerts, strict=True)
        ],
        versions={v: _version(state, status) for v, status in state.by_version.items()},
    )


@router.get(
    "/v1/slos",
    summary="Each SLO with its SLI, error budget left, burn rates and burn-rate alerts now",
    openapi_extra=response_schema(SloList),
    dependencies=[Depends(require(Scope.READ))],
)
async def list_slos(request: Request) -> Response:
    service: SloService = request.app.state.slos
    states = await run_in_threadpool(service.states)
    return json_response(SloList([_view(state) for state in states]))
