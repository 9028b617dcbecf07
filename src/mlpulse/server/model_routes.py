"""``/v1/models``: the models the collector has seen, and their traffic."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlpulse.domain.auth import Scope
from mlpulse.domain.models import ModelInfo, ModelSummary
from mlpulse.domain.schema import ColumnKind
from mlpulse.domain.window import parse_duration
from mlpulse.errors import InvalidInputError, NotFoundError
from mlpulse.ports import Clock, EventStore, MetadataStore
from mlpulse.server.auth import require
from mlpulse.server.bodies import json_response, read_json
from mlpulse.server.openapi import body_schema, response_schema

router = APIRouter(prefix="/v1/models", tags=["models"])


class ModelList(msgspec.Struct, frozen=True):
    models: list[ModelInfo]


class SchemaOverrides(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Declared column kinds; they win over inferred ones. Replaces earlier overrides."""

    columns: dict[str, ColumnKind]


def _find(metadata: MetadataStore, model: str) -> ModelInfo:
    for info in metadata.list_models():
        if info.model == model:
            return info
    raise NotFoundError(f"no model named {model!r} has sent events")


@router.get(
    "",
    summary="Models, their versions and schemas",
    openapi_extra=response_schema(ModelList),
    dependencies=[Depends(require(Scope.READ))],
)
async def list_models(request: Request) -> Response:
    metadata: MetadataStore = request.app.state.metadata
    models = await run_in_threadpool(metadata.list_models)
    return json_response(ModelList(models))


@router.get(
    "/{model:path}/summary",
    summary="Per version: count, throughput, error rate and latency percentiles over a window",
    openapi_extra=response_schema(ModelSummary),
    dependencies=[Depends(require(Scope.READ))],
)
async def model_summary(
    request: Request,
    model: str,
    window: str = Query("1h", description="Window length ending at `end`: 30s, 5m, 1h, 7d"),
    end: float | None = Query(None, description="Window end, seconds since the epoch (now)"),
) -> Response:
    metadata: MetadataStore = request.app.state.metadata
    store: EventStore = request.app.state.store
    clock: Clock = request.app.state.clock
    seconds = parse_duration(window)
    if end is not None and not 0 < end < 1e11:
        raise InvalidInputError("end must be seconds since the epoch", field="end")
    stop = clock.now() if end is None else end
    await run_in_threadpool(_find, metadata, model)
    versions = await run_in_threadpool(
        lambda: store.version_summaries(model, start=stop - seconds, end=stop)
    )
    return json_response(
        ModelSummary(
            model=model, window_s=seconds, start=stop - seconds, end=stop, versions=versions
        )
    )


@router.put(
    "/{model:path}/schema",
    summary="Declare column kinds for a model (overrides inference)",
    openapi_extra={**body_schema(SchemaOverrides, msgpack=False), **response_schema(ModelInfo)},
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def set_schema(request: Request, model: str) -> Response:
    metadata: MetadataStore = request.app.state.metadata
    body = await read_json(request, SchemaOverrides)
    await run_in_threadpool(metadata.set_schema_overrides, model, body.columns)
    return json_response(await run_in_threadpool(_find, metadata, model))
