"""Events to Arrow arrays, one column at a time.

Each column is one C-level conversion (a prediction block is already columnar), which
is what lets one Python process keep up with 100k events/s. Feature columns keep
their own Arrow type (double, bool, string) and become the feature lists of
:mod:`.prediction_rows`; nested values (probabilities, segment, a prediction that is a
list) are stored as JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import numpy as np
import pyarrow as pa

from mlpulse.domain.events import Label, Outcome, PredictionBlock, Resource, epoch_seconds

TIMESTAMP = pa.timestamp("us", tz="UTC")
_json = msgspec.json.Encoder()

LABEL_COLUMNS = (
    ("model", "VARCHAR"),
    ("version", "VARCHAR"),
    ("request_id", "VARCHAR"),
    ("ts", "TIMESTAMPTZ"),
    ("received_at", "TIMESTAMPTZ"),
    ("label", "JSON"),
    ("batch_id", "VARCHAR"),
)
OUTCOME_COLUMNS = (
    ("name", "VARCHAR"),
    ("value", "DOUBLE"),
    ("model", "VARCHAR"),
    ("version", "VARCHAR"),
    ("request_id", "VARCHAR"),
    ("unit_id", "VARCHAR"),
    ("ts", "TIMESTAMPTZ"),
    ("received_at", "TIMESTAMPTZ"),
    ("batch_id", "VARCHAR"),
)
RESOURCE_COLUMNS = (
    ("model", "VARCHAR"),
    ("version", "VARCHAR"),
    ("host", "VARCHAR"),
    ("pid", "BIGINT"),
    ("ts", "TIMESTAMPTZ"),
    ("received_at", "TIMESTAMPTZ"),
    ("cpu_percent", "DOUBLE"),
    ("memory_rss_mb", "DOUBLE"),
    ("memory_percent", "DOUBLE"),
    # One value per GPU, in device order.
    ("gpu_utilization", "DOUBLE[]"),
    ("gpu_memory_used_mb", "DOUBLE[]"),
    ("batch_id", "VARCHAR"),
)
_DOUBLES = pa.list_(pa.float64())


def _timestamps(values: Sequence[Any] | None, default: float, n: int) -> pa.Array:
    if values is None:
        return _constant_time(default, n)
    seconds = np.fromiter(
        (
            default if v is None else (v if v.__class__ is float else epoch_seconds(v))
            for v in values
        ),
        dtype=np.float64,
        count=len(values),
    )
    return pa.array(np.round(seconds * 1e6).astype(np.int64), type=TIMESTAMP)


def _constant_time(value: float, n: int) -> pa.Array:
    return pa.array(np.full(n, round(value * 1e6), dtype=np.int64), type=TIMESTAMP)


def _json_or_null(values: Sequence[Any]) -> pa.Array:
    encode = _json.encode
    return pa.array([None if v is None else encode(v) for v in values], type=pa.string())


def _json_values(values: Sequence[Any] | None, n: int) -> pa.Array:
    """Values stored as JSON exactly as given (DuckDB reads Arrow's json extension type)."""
    if values is None:
        return pa.nulls(n, pa.json_())
    encode = _json.encode
    return pa.array([None if v is None else encode(v) for v in values], type=pa.json_())


_ARROW_TYPE: Final[dict[type, pa.DataType]] = {
    float: pa.float64(),
    int: pa.float64(),
    bool: pa.bool_(),
    str: pa.string(),
}


def _typed_or_json(values: Sequence[Any] | None, n: int) -> pa.Array:
    """One Arrow type for the column when its values share one; else JSON per value.

    The type comes from the first non-null value; a column that mixes types becomes
    JSON. NaN and ±inf become null: a non-finite feature value is a missing value (see
    :mod:`mlpulse.domain.events`).
    """
    if values is None:
        return pa.nulls(n)
    first = next((v for v in values if v is not None), None)
    kind = _ARROW_TYPE.get(type(first))
    if kind is None:
        return pa.nulls(n) if first is None else _json_values(values, n)
    try:
        # Always with an explicit type: pyarrow's own inference (and pyarrow.compute)
        # try to import dateutil on every call: 0.1 ms each where it is not installed.
        array = pa.array(values, type=kind, from_pandas=True)  # NaN → null
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return _json_values(values, n)
    if kind == pa.float64() and n:
        data = np.frombuffer(array.buffers()[1], dtype=np.float64, count=n, offset=array.offset * 8)
        if np.isinf(data).any():  # rare: rebuild with ±inf (and NaN) as null
            finite = [None if v in _INFINITE or v != v else v for v in values]
            array = pa.array(finite, type=kind)
    return array


_INFINITE: Final = (math.inf, -math.inf)


def _optional(values: Sequence[Any] | None, kind: pa.DataType, n: int) -> pa.Array:
    return pa.nulls(n, kind) if values is None else pa.array(values, type=kind)


@dataclass(frozen=True, slots=True)
class BlockFeatures:
    """One block's model, row count and feature columns (its Arrow type each)."""

    model: str
    rows: int
    features: dict[str, pa.Array]


@dataclass(frozen=True, slots=True)
class PredictionArrays:
    """A batch's predictions: the fixed columns of all its blocks' rows in one table
    (``model`` first, block after block), and each block's feature columns."""

    base: pa.Table
    blocks: list[BlockFeatures]


def _joined(blocks: Sequence[PredictionBlock], column: str) -> list[Any] | None:
    """The column of every block, one after the other; None when no block has it.

    One Arrow conversion per column for the whole batch: a batch of 1,000 one-row
    blocks (a model per customer) costs what one block of 1,000 rows does.
    """
    parts = [getattr(b, column) for b in blocks]
    if all(p is None for p in parts):
        return None
    if len(parts) == 1:
        return parts[0]  # type: ignore[no-any-return]  # a block's column is a list
    joined: list[Any] = []
    for block, part in zip(blocks, parts, strict=True):
        joined.extend([None] * len(block) if part is None else part)
    return joined


def _repeated(values: Sequence[str], counts: Sequence[int]) -> pa.Array:
    if len(values) == 1:  # one C call: a list of 5,000 copies cost 0.2 ms
        return pa.repeat(pa.scalar(values[0], pa.string()), counts[0])
    return pa.array(values, type=pa.string()).take(
        pa.array(np.repeat(np.arange(len(values)), counts))
    )


def _first_type(values: Sequence[Any]) -> type | None:
    return next((v.__class__ for v in values if v is not None), None)


def _join_features(
    blocks: Sequence[PredictionBlock],
    name: str,
    found: list[int],
    counts: list[int],
    features: list[dict[str, pa.Array]],
) -> bool:
    """Convert feature ``name`` of the blocks ``found`` at once, if their values' first
    types agree (False, converting nothing, if they do not).

    A block whose values are all missing gets a null-typed array, as alone: it records
    no type. Blocks of another first type are converted alone, so pyarrow does not
    coerce one block's booleans into another's numbers.
    """
    firsts = [_first_type(blocks[b].features[name]) for b in found]
    kinds = {_ARROW_TYPE.get(t) for t in firsts if t is not None}
    if len(kinds) != 1 or None in kinds:
        return False
    joined: list[Any] = []
    typed = [b for b, first in zip(found, firsts, strict=True) if first is not None]
    for b in typed:
        joined.extend(blocks[b].features[name])
    array = _typed_or_json(joined, len(joined))
    if isinstance(array.type, pa.JsonType):
        return False  # values of several types: each block alone
    offset = 0
    for b in typed:
        features[b][name] = array.slice(offset, counts[b])
        offset += counts[b]
    for b, first in zip(found, firsts, strict=True):
        if first is None:
            features[b][name] = pa.nulls(counts[b])
    return True


def prediction_arrays(
    blocks: Sequence[PredictionBlock], *, batch_id: str, received_at: float
) -> PredictionArrays:
    counts = [len(b.request_id) for b in blocks]
    n = sum(counts)
    request_ids = blocks[0].request_id if len(blocks) == 1 else _joined(blocks, "request_id")
    base = pa.table(
        {
            "model": _repeated([b.model for b in blocks], counts),
            "version": _repeated([b.version for b in blocks], counts),
            "request_id": pa.array(request_ids or [], type=pa.string()),
            "ts": _timestamps(_joined(blocks, "timestamp"), received_at, n),
            "received_at": _constant_time(received_at, n),
            "prediction": _json_values(_joined(blocks, "prediction"), n),
            "score": _optional(_joined(blocks, "score"), pa.float64(), n),
            "probabilities": _json_values(_joined(blocks, "probabilities"), n),
            "latency_ms": _optional(_joined(blocks, "latency_ms"), pa.float64(), n),
            "segment": _json_values(_joined(blocks, "segment"), n),
            "trace_id": _optional(_joined(blocks, "trace_id"), pa.string(), n),
            "error": _optional(_joined(blocks, "error"), pa.string(), n),
            "batch_id": _repeated([batch_id], [n]),
        }
    )
    return PredictionArrays(base, _block_features(blocks, counts))


def _block_features(blocks: Sequence[PredictionBlock], counts: list[int]) -> list[BlockFeatures]:
    """Each block's feature columns as Arrow arrays.

    A feature name in several blocks (1,000 models of one row each, with the same
    features) is converted once over all of them and sliced, zero-copy, per block: one
    conversion costs tens of µs, so per block it would cost more than the write. When
    the joined values mix types, each block's are converted alone, so that one block's
    strings do not turn another block's numbers into JSON.
    """
    if len(blocks) == 1:
        (block,) = blocks
        n = counts[0]
        return [
            BlockFeatures(
                block.model, n, {f: _typed_or_json(v, n) for f, v in block.features.items()}
            )
        ]
    where: dict[str, list[int]] = {}
    for b, block in enumerate(blocks):
        for name in block.features:
            where.setdefault(name, []).append(b)
    features: list[dict[str, pa.Array]] = [{} for _ in blocks]
    for name, found in where.items():
        if len(found) > 1 and _join_features(blocks, name, found, counts, features):
            continue
        for b in found:
            features[b][name] = _typed_or_json(blocks[b].features[name], counts[b])
    return [
        BlockFeatures(block.model, rows, columns)
        for block, rows, columns in zip(blocks, counts, features, strict=True)
    ]


def labels_table(events: Sequence[Label], *, batch_id: str, received_at: float) -> pa.Table:
    n = len(events)
    return pa.table(
        {
            "model": pa.array([e.model for e in events], type=pa.string()),
            "version": pa.array([e.version for e in events], type=pa.string()),
            "request_id": pa.array([e.request_id for e in events], type=pa.string()),
            "ts": _timestamps([e.timestamp for e in events], received_at, n),
            "received_at": _constant_time(received_at, n),
            "label": _json_or_null([e.label for e in events]),
            "batch_id": pa.array([batch_id] * n, type=pa.string()),
        }
    )


def outcomes_table(events: Sequence[Outcome], *, batch_id: str, received_at: float) -> pa.Table:
    n = len(events)
    return pa.table(
        {
            "name": pa.array([e.name for e in events], type=pa.string()),
            "value": pa.array([e.value for e in events], type=pa.float64()),
            "model": pa.array([e.model for e in events], type=pa.string()),
            "version": pa.array([e.version for e in events], type=pa.string()),
            "request_id": pa.array([e.request_id for e in events], type=pa.string()),
            "unit_id": pa.array([e.unit_id for e in events], type=pa.string()),
            "ts": _timestamps([e.timestamp for e in events], received_at, n),
            "received_at": _constant_time(received_at, n),
            "batch_id": pa.array([batch_id] * n, type=pa.string()),
        }
    )


def resources_table(events: Sequence[Resource], *, batch_id: str, received_at: float) -> pa.Table:
    n = len(events)
    return pa.table(
        {
            "model": pa.array([e.model for e in events], type=pa.string()),
            "version": pa.array([e.version for e in events], type=pa.string()),
            "host": pa.array([e.host for e in events], type=pa.string()),
            "pid": pa.array([e.pid for e in events], type=pa.int64()),
            "ts": _timestamps([e.timestamp for e in events], received_at, n),
            "received_at": _constant_time(received_at, n),
            "cpu_percent": pa.array([e.cpu_percent for e in events], type=pa.float64()),
            "memory_rss_mb": pa.array([e.memory_rss_mb for e in events], type=pa.float64()),
            "memory_percent": pa.array([e.memory_percent for e in events], type=pa.float64()),
            "gpu_utilization": pa.array([e.gpu_utilization for e in events], type=_DOUBLES),
            "gpu_memory_used_mb": pa.array([e.gpu_memory_used_mb for e in events], type=_DOUBLES),
            "batch_id": pa.array([batch_id] * n, type=pa.string()),
        }
    )
