"""``/v1/alerts``, ``/v1/silences``, ``/v1/outbox`` and Alertmanager's webhook."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlpulse.domain.alerts import Alert, OutboxEntry, Silence
from mlpulse.domain.auth import ApiKey, Scope
from mlpulse.domain.window import parse_duration
from mlpulse.errors import InvalidInputError
from mlpulse.ports import AlertStore
from mlpulse.server.auth import require
from mlpulse.server.bodies import json_response, read_json
from mlpulse.server.openapi import body_schema, response_schema
from mlpulse.services.alert_engine import AlertEngine
from mlpulse.services.alertmanager import AlertmanagerIntake

router = APIRouter(tags=["alerts"])
AdminKey = Annotated[ApiKey, Depends(require(Scope.ADMIN))]


class AlertList(msgspec.Struct, frozen=True):
    alerts: list[Alert]


class SilenceRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A silence: label matchers and either ``ends_at`` or a ``duration`` like ``2h``."""

    matchers: dict[str, str]
    comment: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    starts_at: float | None = None
    ends_at: float | None = None
    duration: str | None = None
    created_by: str | None = None


class SilenceList(msgspec.Struct, frozen=True):
    silences: list[Silence]


class OutboxList(msgspec.Struct, frozen=True):
    entries: list[OutboxEntry]


class TickResult(msgspec.Struct, frozen=True):
    rules: int
    series: int
    changed: int
    notifications: int
    seconds: float
    failures: list[str]


def _engine(request: Request) -> AlertEngine:
    engine: AlertEngine = request.app.state.alerts
    return engine


@router.get(
    "/v1/alerts",
    summary="Alerts: pending, firing and lately resolved",
    openapi_extra=response_schema(AlertList),
    dependencies=[Depends(require(Scope.READ))],
)
async def list_alerts(
    request: Request,
    state: str | None = Query(None, pattern="^(pending|firing|resolved)$"),
) -> Response:
    return json_response(AlertList(_engine(request).alerts(state=state)))


@router.post(
    "/v1/alerts/{fingerprint}/ack",
    summary="Acknowledge an alert (escalation stops)",
    openapi_extra=response_schema(Alert),
)
async def acknowledge(request: Request, fingerprint: str, key: AdminKey) -> Response:
    engine = _engine(request)
    alert = await run_in_threadpool(engine.acknowledge, fingerprint, by=key.name or key.key_id)
    return json_response(alert)


@router.post(
    "/v1/alerts/{fingerprint}/resolve",
    summary="Resolve an alert by hand (it fires again while its condition holds)",
    openapi_extra=response_schema(Alert),
)
async def resolve(request: Request, fingerprint: str, key: AdminKey) -> Response:
    engine = _engine(request)
    alert = await run_in_threadpool(engine.resolve, fingerprint, by=key.name or key.key_id)
    return json_response(alert)


@router.post(
    "/v1/alerts/tick",
    summary="Evaluate the alert rules now",
    openapi_extra=response_schema(TickResult),
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def tick(request: Request) -> Response:
    report = await run_in_threadpool(_engine(request).tick)
    return json_response(
        TickResult(
            report.rules,
            report.series,
            report.changed,
            report.notifications,
            report.seconds,
            report.failures,
        )
    )


@router.get(
    "/v1/silences",
    summary="Silences, active and expired",
    openapi_extra=response_schema(SilenceList),
    dependencies=[Depends(require(Scope.READ))],
)
async def list_silences(request: Request) -> Response:
    store: AlertStore = request.app.state.alert_store
    return json_response(SilenceList(await run_in_threadpool(store.silences)))


@router.post(
    "/v1/silences",
    summary="Silence the alerts matching label matchers for a while",
    openapi_extra={**body_schema(SilenceRequest, msgpack=False), **response_schema(Silence)},
)
async def add_silence(request: Request, key: AdminKey) -> Response:
    body = await read_json(request, SilenceRequest)
    engine = _engine(request)
    if (body.ends_at is None) == (body.duration is None):
        raise InvalidInputError("give exactly one of ends_at and duration", field="ends_at")
    start = body.starts_at if body.starts_at is not None else request.app.state.clock.now()
    end = body.ends_at if body.ends_at is not None else start + parse_duration(
        body.duration or "", field="duration"
    )  # fmt: skip
    silence = await run_in_threadpool(
        lambda: engine.silence(
            body.matchers,
            starts_at=start,
            ends_at=end,
            created_by=body.created_by or key.name or key.key_id,
            comment=body.comment,
        )
    )
    return json_response(silence, status=201)


@router.delete(
    "/v1/silences/{silence_id}",
    summary="Expire a silence now",
    openapi_extra=response_schema(Silence),
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def expire_silence(request: Request, silence_id: str) -> Response:
    silence = await run_in_threadpool(_engine(request).expire_silence, silence_id)
    return json_response(silence)


@router.get(
    "/v1/outbox",
    summary="Notifications on their way, delivered, or dead (status=dead: the dead letters)",
    openapi_extra=response_schema(OutboxList),
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def outbox(
    request: Request,
    status: str | None = Query(None, pattern="^(pending|delivered|dead|superseded)$"),
    limit: int = Query(100, ge=1, le=10_000),
) -> Response:
    store: AlertStore = request.app.state.alert_store
    entries = await run_in_threadpool(lambda: store.outbox(status=status, limit=limit))
    return json_response(OutboxList(entries))


@router.post(
    "/v1/alertmanager/webhook",
    summary="Alertmanager's webhook: Prometheus alerts enter mlpulse's routing "
    "(an alertmanager-scope key; at most 1,000 alerts a request, 5,000 a minute)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
    dependencies=[Depends(require(Scope.ALERTMANAGER))],
)
async def alertmanager_webhook(request: Request) -> Response:
    body: dict[str, Any] = await read_json(request, dict[str, Any], limit=4 * 1024 * 1024)
    intake: AlertmanagerIntake = request.app.state.alertmanager_intake
    alerts = intake.accept(body)
    engine = _engine(request)
    await run_in_threadpool(engine.external, alerts)
    return json_response({"accepted": len(alerts)})
