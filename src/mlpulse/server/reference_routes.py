"""``/v1/models/{model}/reference``: upload training data, pin a window, read it back."""

from __future__ import annotations

import io
from typing import cast

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlpulse.core.drift.check import Kind
from mlpulse.core.profiles.window import WindowProfile
from mlpulse.domain.auth import Scope
from mlpulse.domain.series import StoredReference
from mlpulse.errors import (
    InvalidInputError,
    MalformedBodyError,
    NotFoundError,
    UnsupportedMediaTypeError,
)
from mlpulse.library.frames import as_kind, columns_of, infer_kind
from mlpulse.ports import Clock, MetadataStore, SeriesStore
from mlpulse.server.auth import require
from mlpulse.server.bodies import json_response, read_body, read_json
from mlpulse.server.openapi import response_schema
from mlpulse.services.references import reference_from_columns, reference_from_window

router = APIRouter(prefix="/v1/models", tags=["references"])

PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")


class PinnedWindow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Pin the model's own traffic in [start, end) (seconds since the epoch) as reference."""

    start: float
    end: float
    version: str = ""


class ReferenceView(msgspec.Struct, frozen=True):
    model: str
    version: str
    source: str
    created_at: float
    rows: int
    columns: dict[str, str]
    outputs: dict[str, str]
    sample_rows: int


def _view(reference: StoredReference) -> ReferenceView:
    profile = WindowProfile.from_bytes(reference.profile)
    sample = msgspec.msgpack.decode(reference.sample) if reference.sample else {}
    return ReferenceView(
        model=reference.model,
        version=reference.version,
        source=reference.source,
        created_at=reference.created_at,
        rows=profile.requests,
        columns=dict(profile.features.kinds),
        outputs=dict(profile.outputs.kinds),
        sample_rows=len(sample.get("score", [])),
    )


def _table(body: bytes, content_type: str) -> object:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    media = content_type.split(";")[0].strip().lower()
    try:
        if media in PARQUET_TYPES or (media == "application/octet-stream" and body[:4] == b"PAR1"):
            return pq.read_table(io.BytesIO(body))
        if media in ("text/csv", "application/csv"):
            return pacsv.read_csv(io.BytesIO(body))
    except Exception as exc:  # pyarrow raises its own errors for a bad file
        raise MalformedBodyError(f"cannot read the {media} body: {exc}") from exc
    raise UnsupportedMediaTypeError(
        f"upload a Parquet file ({PARQUET_TYPES[0]}) or CSV (text/csv); got {media or 'none'}"
    )


@router.post(
    "/{model:path}/reference",
    summary="Upload training data (Parquet or CSV) as the model's reference",
    openapi_extra=response_schema(ReferenceView),
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def upload(
    request: Request,
    model: str,
    version: str = Query("", description="The version it describes ('' = every version)"),
    label_column: str | None = Query(None),
    prediction_column: str | None = Query(None),
    score_column: str | None = Query(None),
    name: str = Query("upload", description="Where it came from, e.g. the file name"),
) -> Response:
    series: SeriesStore = request.app.state.series
    metadata: MetadataStore = request.app.state.metadata
    clock: Clock = request.app.state.clock
    body = await read_body(request, request.app.state.settings.max_body_bytes)

    def build() -> StoredReference:
        columns = columns_of(_table(body, request.headers.get("content-type", "")), name="body")
        overrides = next((m.schema for m in metadata.list_models() if m.model == model), {})
        kinds: dict[str, Kind] = {
            n: cast(Kind, overrides[n].value) if n in overrides else infer_kind(v)
            for n, v in columns.items()
        }
        columns = {n: as_kind(v, kinds[n]) for n, v in columns.items()}
        reference = reference_from_columns(
            model,
            columns,
            kinds,
            version=version,
            source=f"upload:{name}",
            now=clock.now(),
            label_column=label_column,
            prediction_column=prediction_column,
            score_column=score_column,
        )
        series.put_reference(reference)
        return reference

    return json_response(_view(await run_in_threadpool(build)), status=201)


@router.post(
    "/{model:path}/reference/window",
    summary="Pin a window of the model's own traffic as its reference",
    openapi_extra=response_schema(ReferenceView),
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def pin(request: Request, model: str) -> Response:
    series: SeriesStore = request.app.state.series
    clock: Clock = request.app.state.clock
    window = await read_json(request, PinnedWindow)

    def build() -> StoredReference:
        reference = reference_from_window(
            series, model, start=window.start, end=window.end, version=window.version,
            now=clock.now(),
        )  # fmt: skip
        series.put_reference(reference)
        return reference

    return json_response(_view(await run_in_threadpool(build)), status=201)


@router.get(
    "/{model:path}/reference",
    summary="The reference drift is measured against",
    openapi_extra=response_schema(ReferenceView),
    dependencies=[Depends(require(Scope.READ))],
)
async def get(request: Request, model: str, version: str = Query("")) -> Response:
    series: SeriesStore = request.app.state.series
    found = await run_in_threadpool(series.get_reference, model, version)
    if found is None:
        raise NotFoundError(f"model {model!r} has no reference")
    if version and found.version not in (version, ""):
        raise InvalidInputError("no reference for that version", field="version")
    return json_response(_view(found))
