"""Events to the row tuples ``COPY`` writes, in the request's thread.

The columns are those of the tables in :mod:`.migrations`. JSON values (prediction,
probabilities, segment, label) are encoded by msgspec as the DuckDB store encodes
them, and stored as ``json``: the text is kept as written, so a label compares with a
prediction by its text exactly as in the embedded store. A prediction's features are
one JSON object per row; a missing or non-finite value is left out of it (the DuckDB
store stores it as null; either way it reads as missing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from itertools import repeat
from typing import Any, Final

import msgspec

from mlpulse.adapters.store.postgres.database import at
from mlpulse.domain.events import Label, Outcome, PredictionBlock, Resource, epoch_seconds

_encode = msgspec.json.Encoder().encode
_isfinite = math.isfinite

PREDICTION_COLUMNS: Final = (
    "model", "version", "request_id", "ts", "received_at", "prediction", "score",
    "probabilities", "latency_ms", "segment", "trace_id", "error", "batch_id", "features",
)  # fmt: skip
LABEL_COLUMNS: Final = (
    "model", "version", "request_id", "ts", "received_at", "label", "batch_id",
)  # fmt: skip
OUTCOME_COLUMNS: Final = (
    "name", "value", "model", "version", "request_id", "unit_id", "ts", "received_at",
    "batch_id",
)  # fmt: skip
RESOURCE_COLUMNS: Final = (
    "model", "version", "host", "pid", "ts", "received_at", "cpu_percent", "memory_rss_mb",
    "memory_percent", "gpu_utilization", "gpu_memory_used_mb", "batch_id",
)  # fmt: skip

Row = tuple[Any, ...]


def _time(value: Any, received: datetime) -> datetime:
    if value is None:
        return received
    return at(value if value.__class__ is float else epoch_seconds(value))


def _json(values: Sequence[Any] | None, n: int) -> Sequence[str | None]:
    if values is None:
        return [None] * n
    return [None if v is None else _encode(v).decode() for v in values]


def _column(values: Sequence[Any] | None, n: int) -> Sequence[Any]:
    return [None] * n if values is None else values


def _features(features: dict[str, list[Any]], n: int) -> list[str]:
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for name, values in features.items():
        for row, value in zip(rows, values, strict=True):
            if value is None or (value.__class__ is float and not _isfinite(value)):
                continue
            row[name] = value
    return [_encode(row).decode() for row in rows]


def prediction_rows(block: PredictionBlock, *, batch_id: str, received_at: float) -> list[Row]:
    n = len(block.request_id)
    received = at(received_at)
    if block.timestamp is None:
        times: Sequence[datetime] = [received] * n
    else:
        times = [_time(v, received) for v in block.timestamp]
    return list(
        zip(
            repeat(block.model, n),
            repeat(block.version, n),
            block.request_id,
            times,
            repeat(received, n),
            _json(block.prediction, n),
            _column(block.score, n),
            _json(block.probabilities, n),
            _column(block.latency_ms, n),
            _json(block.segment, n),
            _column(block.trace_id, n),
            _column(block.error, n),
            repeat(batch_id, n),
            _features(block.features, n),
            strict=True,
        )
    )


def label_rows(events: Sequence[Label], *, batch_id: str, received_at: float) -> list[Row]:
    received = at(received_at)
    return [
        (e.model, e.version, e.request_id, _time(e.timestamp, received), received,
         None if e.label is None else _encode(e.label).decode(), batch_id)
        for e in events
    ]  # fmt: skip


def outcome_rows(events: Sequence[Outcome], *, batch_id: str, received_at: float) -> list[Row]:
    received = at(received_at)
    return [
        (e.name, e.value, e.model, e.version, e.request_id, e.unit_id,
         _time(e.timestamp, received), received, batch_id)
        for e in events
    ]  # fmt: skip


def resource_rows(events: Sequence[Resource], *, batch_id: str, received_at: float) -> list[Row]:
    received = at(received_at)
    return [
        (e.model, e.version, e.host, e.pid, _time(e.timestamp, received), received,
         e.cpu_percent, e.memory_rss_mb, e.memory_percent, e.gpu_utilization,
         e.gpu_memory_used_mb, batch_id)
        for e in events
    ]  # fmt: skip
