"""From buffered events to request bodies: the wire structs, MessagePack and gzip.

The serving thread only appends plain tuples to the buffer (building a struct there
would cost more); the shipper thread turns them into a :class:`~mlpulse.domain.events.Batch`
of :mod:`mlpulse.domain.events`, so what goes out is exactly the collector's schema:
predictions as column blocks (:class:`~mlpulse.domain.events.PredictionBlock`, one per
model version: feature names go once per block, and the collector turns each column
into one array), labels, outcomes and resource samples as rows.

Nothing is validated here either: a bad value is encoded as it is and the collector
rejects that one event, naming the field. Only values MessagePack cannot carry at all
(an arbitrary object, an int over 64 bits) are caught here, per event.
"""

from __future__ import annotations

import gzip
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import msgspec

from mlpulse.domain.events import (
    Batch,
    Event,
    Label,
    Outcome,
    Prediction,
    PredictionBlock,
    Resource,
)

Compression: TypeAlias = Literal["gzip"] | None

# The first item of a buffered tuple says which event it is.
PREDICTION: Final = 0
LABEL: Final = 1
OUTCOME: Final = 2
RESOURCE: Final = 3

# A buffered event. Its items are whatever the caller passed (unvalidated, hence Any), in the
# order the ``*_item`` functions below unpack them:
#   (PREDICTION, model, version, request_id, features, prediction, timestamp, score,
#    probabilities, latency_ms, segment, trace_id, error)
#   (LABEL, model, request_id, label, version, timestamp)
#   (OUTCOME, name, value, model, version, request_id, unit_id, timestamp)
#   (RESOURCE, model, version, host, pid, timestamp, cpu_percent, memory_rss_mb,
#    memory_percent, gpu_utilization, gpu_memory_used_mb)
BufferedEvent: TypeAlias = tuple[Any, ...]

# gzip level 1: ML feature batches are repetitive, so the fastest level already shrinks them
# several times; higher levels cost the serving process CPU for little more.
_GZIP_LEVEL: Final = 1


def to_event(item: BufferedEvent) -> Event:
    """The wire struct for one buffered tuple."""
    kind = item[0]
    if kind == PREDICTION:
        (_, model, version, request_id, features, prediction, timestamp, score,
         probabilities, latency_ms, segment, trace_id, error) = item  # fmt: skip
        return Prediction(
            model=model,
            version=version,
            request_id=request_id,
            features=features,
            prediction=prediction,
            timestamp=timestamp,
            score=score,
            probabilities=probabilities,
            latency_ms=latency_ms,
            segment=segment,
            trace_id=trace_id,
            error=error,
        )
    if kind == LABEL:
        _, model, request_id, label, version, timestamp = item
        return Label(
            model=model, request_id=request_id, label=label, version=version, timestamp=timestamp
        )
    if kind == RESOURCE:
        (_, model, version, host, pid, timestamp, cpu_percent, memory_rss_mb, memory_percent,
         gpu_utilization, gpu_memory_used_mb) = item  # fmt: skip
        return Resource(
            model=model,
            version=version,
            host=host,
            pid=pid,
            timestamp=timestamp,
            cpu_percent=cpu_percent,
            memory_rss_mb=memory_rss_mb,
            memory_percent=memory_percent,
            gpu_utilization=gpu_utilization,
            gpu_memory_used_mb=gpu_memory_used_mb,
        )
    _, name, value, model, version, request_id, unit_id, timestamp = item
    return Outcome(
        name=name,
        value=value,
        model=model,
        version=version,
        request_id=request_id,
        unit_id=unit_id,
        timestamp=timestamp,
    )


def to_batch(batch_id: str, items: Sequence[BufferedEvent]) -> Batch:
    """The wire batch for buffered tuples: a column block per model version, rows for the rest.

    A prediction whose model, version or features are not of the expected types (the
    hot path does not check) goes as a row, for the collector to reject by name.
    """
    rows: list[Event] = []
    groups: dict[tuple[str, str], list[BufferedEvent]] = {}
    for item in items:
        if (
            item[0] == PREDICTION
            and type(item[1]) is str
            and type(item[2]) is str
            and type(item[4]) is dict
        ):
            groups.setdefault((item[1], item[2]), []).append(item)
        else:
            rows.append(to_event(item))
    blocks = [_block(model, version, group) for (model, version), group in groups.items()]
    return Batch(events=rows, predictions=blocks, batch_id=batch_id)


def _block(model: str, version: str, group: list[BufferedEvent]) -> PredictionBlock:
    # zip(*) transposes in C: columns[k] holds item k of every buffered tuple.
    columns = list(zip(*group, strict=True))
    return PredictionBlock(
        model=model,
        version=version,
        request_id=list(columns[3]),
        features=_feature_columns(columns[4]),
        prediction=_column(columns[5]),
        timestamp=_column(columns[6]),
        score=_column(columns[7]),
        probabilities=_column(columns[8]),
        latency_ms=_column(columns[9]),
        segment=_column(columns[10]),
        trace_id=_column(columns[11]),
        error=_column(columns[12]),
    )


def _column(values: tuple[Any, ...]) -> list[Any] | None:
    """The column, or None (null in every row) when no row has a value."""
    return None if values.count(None) == len(values) else list(values)


def _feature_columns(rows: tuple[dict[str, Any], ...]) -> dict[str, list[Any]]:
    names = tuple(rows[0])
    width = len(names)
    if width > 1 and all(len(row) == width for row in rows):
        # The usual case, every row with the same names: pick each row's values in the
        # first row's order and transpose, all in C.
        try:
            picked = list(map(operator.itemgetter(*names), rows))
        except KeyError:
            pass  # same sizes, other names: the general case below
        else:
            return dict(zip(names, map(list, zip(*picked, strict=True)), strict=True))
    # A feature missing from a row is null there.
    columns: dict[str, list[Any]] = {}
    for i, row in enumerate(rows):
        for name, value in row.items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = [None] * len(rows)
            column[i] = value
    return columns


def encode_hook(obj: Any) -> Any:
    """Encode numpy (and pandas, torch...) scalars and arrays as plain Python values.

    Duck-typed so the SDK never imports numpy: ``tolist()`` turns a numpy scalar into
    the matching Python scalar and an array into (nested) lists; ``item()`` covers
    scalar types that only have that.
    """
    for name in ("tolist", "item"):
        method = getattr(obj, name, None)
        if callable(method):
            return method()
    raise TypeError(f"values of type {type(obj).__name__} cannot be sent to the collector")


@dataclass(frozen=True, slots=True)
class Payload:
    """A request body ready to send, reused as it is for every retry of its batch."""

    batch_id: str
    items: Sequence[BufferedEvent]
    """The buffered events in the body (to count them, or to split the batch)."""
    body: bytes
    content_encoding: Compression


@dataclass(frozen=True, slots=True)
class Unencodable:
    """An event left out of its batch because it cannot be encoded at all."""

    item: BufferedEvent
    reason: str


class BatchEncoder:
    """Encodes batches with one reused MessagePack encoder; one instance per shipper thread."""

    def __init__(self, *, compression: Compression) -> None:
        self._compression = compression
        self._encoder = msgspec.msgpack.Encoder(enc_hook=encode_hook)

    def encode(
        self, batch_id: str, items: Sequence[BufferedEvent]
    ) -> tuple[Payload | None, list[Unencodable]]:
        """The payload for ``items`` (None if none could be encoded) and the events left out."""
        try:
            body = self._encoder.encode(to_batch(batch_id, items))
        # User values are arbitrary objects: this is the boundary where any failure of theirs
        # (TypeError, OverflowError, RecursionError, an exception from a tolist()) is caught,
        # so one bad event costs only itself.
        except Exception:
            return self._encode_each(batch_id, items)
        return self._payload(batch_id, items, body), []

    def _encode_each(
        self, batch_id: str, items: Sequence[BufferedEvent]
    ) -> tuple[Payload | None, list[Unencodable]]:
        good: list[BufferedEvent] = []
        bad: list[Unencodable] = []
        for item in items:
            try:
                self._encoder.encode(to_event(item))
            except Exception as exc:  # see encode(): user data, per-event boundary
                bad.append(Unencodable(item, f"{type(exc).__name__}: {exc}"))
            else:
                good.append(item)
        if not good:
            return None, bad
        body = self._encoder.encode(to_batch(batch_id, good))
        return self._payload(batch_id, good, body), bad

    def _payload(self, batch_id: str, items: Sequence[BufferedEvent], body: bytes) -> Payload:
        if self._compression == "gzip":
            # mtime=0 keeps the body of a batch the same byte for byte on every encode.
            body = gzip.compress(body, compresslevel=_GZIP_LEVEL, mtime=0)
        return Payload(batch_id, items, body, self._compression)
