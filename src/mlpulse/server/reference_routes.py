"""``/v1/models/{model}/reference``: upload training data, pin a window, read it back."""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, cast

import msgspec
import numpy as np
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
    MlpulseError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from mlpulse.library.frames import as_kind, columns_of, infer_kind
from mlpulse.ports import Clock, MetadataStore, SeriesStore
from mlpulse.server.auth import require
from mlpulse.server.bodies import json_response, read_json
from mlpulse.server.openapi import response_schema
from mlpulse.services.references import reference_from_batches, reference_from_window

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


_BATCH_ROWS: Final = 16_384  # rows profiled at a time: memory holds one batch
_WRITE_BYTES: Final = 1 << 20  # body bytes gathered before a write to the temporary file
_READ_BYTES: Final = 1 << 18  # bytes of a Parquet column read at a time


async def _spool(request: Request, limit: int) -> Path:
    """The request body in a temporary file (the caller deletes it), refused (413) as
    soon as it is known to exceed ``limit`` bytes. Never all of it in memory."""
    setting = f"the limit of {limit} bytes for references (MLPULSE_MAX_REFERENCE_BYTES)"
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"body of {int(declared)} bytes is over {setting}")
    handle, name = tempfile.mkstemp(prefix="mlpulse-reference-", suffix=".upload")
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as file:
            pending, received = bytearray(), 0
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise PayloadTooLargeError(f"body is over {setting}")
                pending += chunk
                if len(pending) >= _WRITE_BYTES:
                    await run_in_threadpool(file.write, bytes(pending))
                    pending.clear()
            await run_in_threadpool(file.write, bytes(pending))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _media(content_type: str) -> str:
    """The upload's media type, refused (415) unless Parquet, CSV or octet-stream."""
    media = content_type.split(";")[0].strip().lower()
    if media not in (*PARQUET_TYPES, "text/csv", "application/csv", "application/octet-stream"):
        raise UnsupportedMediaTypeError(
            f"upload a Parquet file ({PARQUET_TYPES[0]}) or CSV (text/csv); got {media or 'none'}"
        )
    return media


def _batches(path: Path, media: str) -> Iterator[dict[str, np.ndarray]]:
    """The file's rows, a batch at a time, as numpy columns."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if media == "application/octet-stream":
        with path.open("rb") as file:
            if file.read(4) != b"PAR1":
                raise UnsupportedMediaTypeError(
                    "an application/octet-stream body must be a Parquet file; upload CSV "
                    "as text/csv"
                )
        media = PARQUET_TYPES[0]
    try:
        if media in PARQUET_TYPES:
            # Read a buffer at a time, decoded on this thread: pre-buffering a row group
            # or decoding its columns in parallel holds (much) more of it in memory.
            parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=_READ_BYTES)
            batches: Iterator[Any] = parquet.iter_batches(batch_size=_BATCH_ROWS, use_threads=False)
        else:
            batches = iter(pacsv.open_csv(path))
        for batch in batches:
            yield columns_of(batch, name="body")
    except Exception as exc:  # pyarrow raises its own errors for a bad file
        if isinstance(exc, MlpulseError):
            raise
        raise MalformedBodyError(f"cannot read the {media} body: {exc}") from exc


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
    media = _media(request.headers.get("content-type", ""))
    body = await _spool(request, request.app.state.settings.max_reference_bytes)

    def build() -> StoredReference:
        batches = _batches(body, media)
        first = next(batches, {})
        overrides = next((m.schema for m in metadata.list_models() if m.model == model), {})
        kinds: dict[str, Kind] = {
            n: cast(Kind, overrides[n].value) if n in overrides else infer_kind(v)
            for n, v in first.items()
        }
        reference = reference_from_batches(
            model,
            (
                {n: as_kind(v, kinds[n]) for n, v in columns.items()}
                for columns in itertools.chain([first], batches)
            ),
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

    try:
        built = await run_in_threadpool(build)
    finally:
        body.unlink(missing_ok=True)
    return json_response(_view(built), status=201)


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
