"""``POST /v1/ingest``."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlpulse.domain.auth import Scope
from mlpulse.domain.events import Batch
from mlpulse.domain.ingest import IngestResult
from mlpulse.errors import MlpulseError
from mlpulse.server.auth import require
from mlpulse.server.bodies import read_body
from mlpulse.server.errors import status_of
from mlpulse.server.ingest.decode import decode_batch, decompress, media_format
from mlpulse.server.ingest.screen import screen
from mlpulse.server.metrics import CollectorMetrics
from mlpulse.server.openapi import body_schema, response_schema
from mlpulse.services.ingest import IngestService, PendingBatch

router = APIRouter()
_encode = msgspec.json.Encoder().encode


def _decode_and_submit(
    service: IngestService, body: bytes, content_type: str | None, encoding: str | None, limit: int
) -> PendingBatch:
    fmt = media_format(content_type)
    decoded = decode_batch(decompress(body, encoding, limit=limit), fmt)
    decoded = screen(decoded, service.names, service.schemas)
    return service.submit(decoded.batch_id, decoded.events, decoded.blocks, decoded.rejected)


@router.post(
    "/v1/ingest",
    summary="Store a batch of prediction, label and outcome events",
    description=(
        "Body: MessagePack (`application/msgpack`) or JSON. Valid events are durable when "
        "the response is sent; each invalid event is listed with the field and the reason. "
        "A retried `batch_id` is not stored twice. 200 when at least one event was accepted "
        "(or the batch was empty), 422 when every event was rejected."
    ),
    openapi_extra={**body_schema(Batch), **response_schema(IngestResult)},
    dependencies=[Depends(require(Scope.INGEST))],
)
async def ingest(request: Request) -> Response:
    metrics: CollectorMetrics = request.app.state.metrics
    service: IngestService = request.app.state.ingest
    limit: int = request.app.state.settings.max_body_bytes
    try:
        media_format(request.headers.get("content-type"))  # 415 before reading the body
        body = await read_body(request, limit)
        pending = await run_in_threadpool(
            _decode_and_submit,
            service,
            body,
            request.headers.get("content-type"),
            request.headers.get("content-encoding"),
            limit,
        )
        result = await service.acknowledge(pending)
    except MlpulseError as exc:
        metrics.request_done(status_of(exc)[0])
        raise
    status = 422 if result.accepted == 0 and result.rejected else 200
    metrics.request_done(status)
    return Response(_encode(result), status, media_type="application/json")
