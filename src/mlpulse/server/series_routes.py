"""``/v1/metrics/query`` (the evaluator's series) and ``/v1/evaluator/tick``."""

from __future__ import annotations

import math
from typing import Annotated

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlpulse.domain.auth import Scope
from mlpulse.domain.series import MetricPoint
from mlpulse.errors import InvalidInputError
from mlpulse.ports import Clock, SeriesStore
from mlpulse.server.auth import require
from mlpulse.server.bodies import json_response
from mlpulse.server.openapi import response_schema

router = APIRouter(tags=["metrics"])

MAX_STEPS = 11_000  # as Prometheus: a query returns at most this many steps per series


class Series(msgspec.Struct, frozen=True):
    """One label set's points, oldest first: ``[time, value, status]`` each."""

    labels: dict[str, str]
    points: list[tuple[float, float | None, str | None]]


class QueryResult(msgspec.Struct, frozen=True):
    name: str
    start: float
    end: float
    step: float | None
    series: list[Series]


class TickResult(msgspec.Struct, frozen=True):
    runs: int
    points: int
    failures: list[str]


def _matchers(raw: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(
                f"match must look like label=value (e.g. model=fraud); got {item!r}",
                field="match",
            )
        found[key] = value
    return found


def _series(points: list[MetricPoint], step: float | None, start: float) -> list[Series]:
    """Points grouped by label set; with a step, the last point of each step."""
    grouped: dict[tuple[tuple[str, str], ...], dict[float, MetricPoint]] = {}
    for point in points:
        key = tuple(sorted(point.labels.items()))
        slot = point.ts if step is None else start + math.floor((point.ts - start) / step) * step
        grouped.setdefault(key, {})[slot] = point  # points come oldest first: the last wins
    return [
        Series(
            labels=dict(key),
            points=[
                (slot, None if math.isnan(p.value) else p.value, p.status)
                for slot, p in sorted(slots.items())
            ],
        )
        for key, slots in sorted(grouped.items())
    ]


@router.get(
    "/v1/metrics/query",
    summary="A metric series over a time range (the evaluator's points)",
    openapi_extra=response_schema(QueryResult),
    dependencies=[Depends(require(Scope.READ))],
)
async def query(
    request: Request,
    name: str = Query(..., min_length=1, description="Series name, e.g. mlpulse_drift_score"),
    match: Annotated[
        list[str] | None, Query(description="Label matchers label=value (all must hold)")
    ] = None,
    start: float | None = Query(None, description="Seconds since the epoch (end - 1h)"),
    end: float | None = Query(None, description="Seconds since the epoch (now)"),
    step: float | None = Query(None, gt=0, description="Seconds; the last point of each step"),
) -> Response:
    series: SeriesStore = request.app.state.series
    clock: Clock = request.app.state.clock
    stop = clock.now() if end is None else end
    begin = stop - 3600.0 if start is None else start
    for field, value in (("start", begin), ("end", stop)):
        if not 0 <= value < 1e11:
            raise InvalidInputError(f"{field} must be seconds since the epoch", field=field)
    if begin > stop:
        raise InvalidInputError("start must not be after end", field="start")
    if step is not None and (stop - begin) / step > MAX_STEPS:
        raise InvalidInputError(
            f"step too small: more than {MAX_STEPS} steps in the range", field="step"
        )
    matchers = _matchers(match or [])
    points = await run_in_threadpool(
        lambda: series.query_points(name, matchers=matchers, start=begin, end=stop)
    )
    return json_response(QueryResult(name, begin, stop, step, _series(points, step, begin)))


@router.post(
    "/v1/evaluator/tick",
    summary="Run the evaluator now (each monitor still waits for its own schedule)",
    openapi_extra=response_schema(TickResult),
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def tick(request: Request) -> Response:
    report = await run_in_threadpool(request.app.state.background.tick)
    return json_response(TickResult(report.runs, report.points, report.failures))
