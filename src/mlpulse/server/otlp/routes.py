"""``POST /v1/traces`` and ``POST /v1/logs``: OTLP/HTTP spans and log records that describe
inferences become prediction events.

The spans take the path of ``POST /v1/ingest`` after decoding: the same screen (printable
names, model and feature limits) and the same ingest service, so a span is acknowledged
only once its prediction is durable. The batch id is a digest of the (decompressed) body:
an exporter that retries after a lost answer sends the same bytes, and the collector
does not store them twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlpulse.domain.auth import Scope
from mlpulse.domain.events import Event
from mlpulse.domain.ingest import IngestResult, Rejection
from mlpulse.domain.otlp import Span, TraceIntake, trace_intake
from mlpulse.errors import InvalidInputError, MlpulseError
from mlpulse.server.auth import require
from mlpulse.server.bodies import read_body
from mlpulse.server.errors import status_of
from mlpulse.server.ingest.decode import DecodedBatch, decompress
from mlpulse.server.ingest.screen import screen
from mlpulse.server.metrics import CollectorMetrics
from mlpulse.server.otlp.decode import (
    PROTOBUF,
    decode_spans,
    encode_response,
    encode_status,
    media_type,
)
from mlpulse.server.otlp.log_records import decode_log_records, encode_logs_response
from mlpulse.services.ingest import IngestService, PendingBatch

router = APIRouter()
# At most this many rejections are spelled out in partial_success.error_message.
MESSAGE_REJECTIONS = 5


@dataclass(frozen=True, slots=True)
class _Signal:
    """What differs between ``/v1/traces`` and ``/v1/logs``."""

    name: str  # the signal label of the counter
    items: str  # what the request carries, in messages
    decode: Callable[[bytes, str, str], list[Span]]  # (body, media type, batch id)
    encode: Callable[[str, int, str], bytes]  # (media type, rejected, message)


_TRACES = _Signal(
    "traces",
    "spans",
    lambda body, media, _: decode_spans(body, media),
    lambda media, rejected, message: encode_response(media, rejected=rejected, message=message),
)
_LOGS = _Signal(
    "logs",
    "log records",
    lambda body, media, batch_id: decode_log_records(body, media, id_prefix=batch_id),
    lambda media, rejected, message: encode_logs_response(
        media, rejected=rejected, message=message
    ),
)


def install(app: FastAPI) -> None:
    """Add the OTLP routes and their counter (on the app's own metrics registry)."""
    metrics: CollectorMetrics = app.state.metrics
    app.state.otlp_received = Counter(
        "mlpulse_otlp_received",
        "OTLP spans and log records received, by signal (traces, logs) and outcome: "
        "accepted (a prediction), rejected (names a model but is not a valid prediction), "
        "ignored (names no model).",
        ["signal", "outcome"],
        registry=metrics.registry,
    )
    app.include_router(router)


def _decode_and_submit(
    signal: _Signal,
    service: IngestService,
    body: bytes,
    media: str,
    encoding: str | None,
    limit: int,
) -> tuple[TraceIntake, DecodedBatch, PendingBatch | None]:
    plain = decompress(body, encoding, limit=limit)
    batch_id = f"otlp-{hashlib.blake2b(plain, digest_size=16).hexdigest()}"
    intake = trace_intake(signal.decode(plain, media, batch_id))
    events: list[Event] = list(intake.predictions)
    decoded = DecodedBatch(batch_id, events, [], intake.rejected, intake.indexes, [])
    screened = screen(decoded, service.names, service.schemas)
    if screened is not decoded:  # name the span and attribute, not the event
        rejected = [intake.attribute_rejection(r) for r in screened.rejected]
        decoded = DecodedBatch(batch_id, screened.events, [], rejected, screened.event_indexes, [])
    if not decoded.events:  # nothing to store: no batch, only the answer
        return intake, decoded, None
    pending = service.submit(decoded.batch_id, decoded.events, [], decoded.rejected)
    return intake, decoded, pending


def _described(exc: MlpulseError) -> str:
    """The error's message, with the field it names (a protobuf Status has no field)."""
    field = exc.field if isinstance(exc, InvalidInputError) else None
    message = exc.message if isinstance(exc, InvalidInputError) else str(exc)
    return message if not field or message.startswith(field) else f"{field}: {message}"


def _message(rejected: list[Rejection], total: int, items: str) -> str:
    parts = [f"{r.field}: {r.reason}" for r in rejected[:MESSAGE_REJECTIONS]]
    if total > len(parts):
        parts.append(f"... and {total - len(parts)} more rejected {items}")
    return "; ".join(parts)


async def _export(request: Request, signal: _Signal) -> Response:
    metrics: CollectorMetrics = request.app.state.metrics
    received: Counter = request.app.state.otlp_received
    service: IngestService = request.app.state.ingest
    limit: int = request.app.state.settings.max_body_bytes
    try:
        media = media_type(request.headers.get("content-type"))  # 415 before reading the body
        body = await read_body(request, limit)
        intake, decoded, pending = await run_in_threadpool(
            _decode_and_submit,
            signal,
            service,
            body,
            media,
            request.headers.get("content-encoding"),
            limit,
        )
        if pending is None:
            rejected, total = decoded.rejected, len(decoded.rejected)
            accepted = 0
        else:
            result: IngestResult = await service.acknowledge(pending)
            rejected = result.rejected
            total = result.rejected_total or len(result.rejected)
            accepted = result.accepted
    except MlpulseError as exc:
        status = status_of(exc)[0]
        metrics.request_done(status)
        content_type = request.headers.get("content-type") or ""
        if content_type.split(";", 1)[0].strip().lower() == PROTOBUF:
            retry = {"Retry-After": "1"} if status in (429, 503) else None
            content = encode_status(status, _described(exc))
            return Response(content, status, headers=retry, media_type=PROTOBUF)
        raise
    received.labels(signal.name, "accepted").inc(accepted)
    received.labels(signal.name, "rejected").inc(total)
    received.labels(signal.name, "ignored").inc(intake.ignored)
    metrics.request_done(200)
    content = signal.encode(media, total, _message(rejected, total, signal.items))
    return Response(content, 200, media_type=media)


_ANSWER = (
    "Spans or log records that name a model (`mlpulse.model` or `gen_ai.request.model`) "
    "are stored as predictions, durable when the response is sent; the others are ignored. "
    "The answer is in the request's encoding; its `partial_success` counts the refused "
    "items and names the attribute and the problem of the first few. See "
    "docs/opentelemetry.md for the attribute names."
)


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace export: spans with inference attributes become predictions",
    description=(
        "Body: an OTLP `ExportTraceServiceRequest`, protobuf (`application/x-protobuf`) "
        "or JSON (`application/json`), optionally gzip-compressed. " + _ANSWER
    ),
    dependencies=[Depends(require(Scope.INGEST))],
)
async def export_traces(request: Request) -> Response:
    return await _export(request, _TRACES)


@router.post(
    "/v1/logs",
    summary="OTLP/HTTP log export: log records with inference attributes become predictions",
    description=(
        "Body: an OTLP `ExportLogsServiceRequest`, protobuf (`application/x-protobuf`) "
        "or JSON (`application/json`), optionally gzip-compressed. " + _ANSWER
    ),
    dependencies=[Depends(require(Scope.INGEST))],
)
async def export_logs(request: Request) -> Response:
    return await _export(request, _LOGS)
