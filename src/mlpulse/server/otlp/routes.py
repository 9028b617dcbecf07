"""``POST /v1/traces``: OTLP/HTTP spans that describe inferences become prediction events.

The spans take the path of ``POST /v1/ingest`` after decoding: the same screen (printable
names, model and feature limits) and the same ingest service, so a span is acknowledged
only once its prediction is durable. The batch id is a digest of the (decompressed) body:
an exporter that retries after a lost answer sends the same bytes, and the collector
does not store them twice.
"""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlpulse.domain.auth import Scope
from mlpulse.domain.events import Event
from mlpulse.domain.ingest import IngestResult, Rejection
from mlpulse.domain.otlp import TraceIntake, trace_intake
from mlpulse.errors import MlpulseError
from mlpulse.server.auth import require
from mlpulse.server.bodies import read_body
from mlpulse.server.errors import status_of
from mlpulse.server.ingest.decode import DecodedBatch, decompress
from mlpulse.server.ingest.screen import screen
from mlpulse.server.metrics import CollectorMetrics
from mlpulse.server.otlp.decode import decode_spans, encode_response, media_type
from mlpulse.services.ingest import IngestService, PendingBatch

router = APIRouter()
# At most this many rejections are spelled out in partial_success.error_message.
MESSAGE_REJECTIONS = 5


def install(app: FastAPI) -> None:
    """Add the OTLP routes and their span counter (on the app's own metrics registry)."""
    metrics: CollectorMetrics = app.state.metrics
    app.state.otlp_spans = Counter(
        "mlpulse_otlp_spans",
        "OTLP spans received, by outcome: accepted (a prediction), rejected (names a model "
        "but is not a valid prediction), ignored (names no model).",
        ["outcome"],
        registry=metrics.registry,
    )
    app.include_router(router)


def _decode_and_submit(
    service: IngestService, body: bytes, media: str, encoding: str | None, limit: int
) -> tuple[TraceIntake, DecodedBatch, PendingBatch | None]:
    plain = decompress(body, encoding, limit=limit)
    intake = trace_intake(decode_spans(plain, media))
    events: list[Event] = list(intake.predictions)
    batch_id = f"otlp-{hashlib.blake2b(plain, digest_size=16).hexdigest()}"
    decoded = DecodedBatch(batch_id, events, [], intake.rejected, intake.indexes, [])
    screened = screen(decoded, service.names, service.schemas)
    if screened is not decoded:  # name the span and attribute, not the event
        rejected = [intake.attribute_rejection(r) for r in screened.rejected]
        decoded = DecodedBatch(batch_id, screened.events, [], rejected, screened.event_indexes, [])
    if not decoded.events:  # nothing to store: no batch, only the answer
        return intake, decoded, None
    pending = service.submit(decoded.batch_id, decoded.events, [], decoded.rejected)
    return intake, decoded, pending


def _message(rejected: list[Rejection], total: int) -> str:
    parts = [f"{r.field}: {r.reason}" for r in rejected[:MESSAGE_REJECTIONS]]
    if total > len(parts):
        parts.append(f"... and {total - len(parts)} more rejected spans")
    return "; ".join(parts)


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace export: spans with inference attributes become predictions",
    description=(
        "Body: an OTLP `ExportTraceServiceRequest`, protobuf (`application/x-protobuf`) "
        "or JSON (`application/json`), optionally gzip-compressed. Spans that name a model "
        "(`mlpulse.model` or `gen_ai.request.model`) are stored as predictions, durable "
        "when the response is sent; the others are ignored. The answer is an "
        "`ExportTraceServiceResponse` in the request's encoding; its `partial_success` "
        "counts the refused spans and names the attribute and the problem of the first "
        "few. See docs/opentelemetry.md for the attribute names."
    ),
    dependencies=[Depends(require(Scope.INGEST))],
)
async def export_traces(request: Request) -> Response:
    metrics: CollectorMetrics = request.app.state.metrics
    spans: Counter = request.app.state.otlp_spans
    service: IngestService = request.app.state.ingest
    limit: int = request.app.state.settings.max_body_bytes
    try:
        media = media_type(request.headers.get("content-type"))  # 415 before reading the body
        body = await read_body(request, limit)
        intake, decoded, pending = await run_in_threadpool(
            _decode_and_submit,
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
        metrics.request_done(status_of(exc)[0])
        raise
    spans.labels("accepted").inc(accepted)
    spans.labels("rejected").inc(total)
    spans.labels("ignored").inc(intake.ignored)
    metrics.request_done(200)
    content = encode_response(media, rejected=total, message=_message(rejected, total))
    return Response(content, 200, media_type=media)
