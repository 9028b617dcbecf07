"""From buffered events to request bodies: the wire structs, MessagePack and gzip.

The serving thread only appends plain tuples to the buffer (building a struct there
would cost more); the shipper thread turns them into the structs of
:mod:`mlpulse.domain.events`, so what goes out is exactly the collector's schema.

Nothing is validated here either: a bad value is encoded as it is and the collector
rejects that one event, naming the field. Only values MessagePack cannot carry at all
(an arbitrary object, an int over 64 bits) are caught here, per event.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import msgspec

from mlpulse.domain.events import Batch, Event, Label, Outcome, Prediction

Compression: TypeAlias = Literal["gzip"] | None

# The first item of a buffered tuple says which event it is.
PREDICTION: Final = 0
LABEL: Final = 1
OUTCOME: Final = 2

# A buffered event. Its items are whatever the caller passed (unvalidated, hence Any), in the
# order the ``*_item`` functions below unpack them:
#   (PREDICTION, model, version, request_id, features, prediction, timestamp, score,
#    probabilities, latency_ms, segment, trace_id, error)
#   (LABEL, model, request_id, label, version, timestamp)
#   (OUTCOME, name, value, model, version, request_id, unit_id, timestamp)
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
    events: Sequence[Event]
    body: bytes
    content_encoding: Compression


@dataclass(frozen=True, slots=True)
class Unencodable:
    """An event left out of its batch because it cannot be encoded at all."""

    event: Event
    reason: str


class BatchEncoder:
    """Encodes batches with one reused MessagePack encoder; one instance per shipper thread."""

    def __init__(self, *, compression: Compression) -> None:
        self._compression = compression
        self._encoder = msgspec.msgpack.Encoder(enc_hook=encode_hook)

    def encode(
        self, batch_id: str, events: Sequence[Event]
    ) -> tuple[Payload | None, list[Unencodable]]:
        """The payload for ``events`` (None if none could be encoded) and the events left out."""
        try:
            body = self._encoder.encode(Batch(events=list(events), batch_id=batch_id))
        # User values are arbitrary objects: this is the boundary where any failure of theirs
        # (TypeError, OverflowError, RecursionError, an exception from a tolist()) is caught,
        # so one bad event costs only itself.
        except Exception:
            return self._encode_each(batch_id, events)
        return self._payload(batch_id, events, body), []

    def _encode_each(
        self, batch_id: str, events: Sequence[Event]
    ) -> tuple[Payload | None, list[Unencodable]]:
        good: list[Event] = []
        bad: list[Unencodable] = []
        for event in events:
            try:
                self._encoder.encode(event)
            except Exception as exc:  # see encode(): user data, per-event boundary
                bad.append(Unencodable(event, f"{type(exc).__name__}: {exc}"))
            else:
                good.append(event)
        if not good:
            return None, bad
        body = self._encoder.encode(Batch(events=good, batch_id=batch_id))
        return self._payload(batch_id, good, body), bad

    def _payload(self, batch_id: str, events: Sequence[Event], body: bytes) -> Payload:
        if self._compression == "gzip":
            # mtime=0 keeps the body of a batch the same byte for byte on every encode.
            body = gzip.compress(body, compresslevel=_GZIP_LEVEL, mtime=0)
        return Payload(batch_id, events, body, self._compression)
