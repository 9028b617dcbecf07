"""Request bodies to events, with a reason for every event that is refused.

The fast path decodes and validates a whole batch in one msgspec call (C code).
Only when that fails do we decode event by event, to keep the valid events and
say for each invalid one which field is wrong and why.
"""

from __future__ import annotations

import gzip
import math
import re
import zlib
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from mlpulse.domain.events import EVENT_KINDS, Batch, BatchId, Event
from mlpulse.domain.ingest import Rejection
from mlpulse.errors import (
    InvalidInputError,
    MalformedBodyError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)

MSGPACK_TYPES: Final = frozenset(
    {"application/msgpack", "application/x-msgpack", "application/vnd.msgpack"}
)
JSON_TYPES: Final = frozenset({"application/json"})


class _RawBatch(msgspec.Struct, forbid_unknown_fields=True):
    events: list[msgspec.Raw]
    batch_id: BatchId | None = None


@dataclass(frozen=True, slots=True)
class _Format:
    name: str
    batch: msgspec.json.Decoder[Batch] | msgspec.msgpack.Decoder[Batch]
    raw_batch: msgspec.json.Decoder[_RawBatch] | msgspec.msgpack.Decoder[_RawBatch]
    event: msgspec.json.Decoder[Event] | msgspec.msgpack.Decoder[Event]
    untyped: msgspec.json.Decoder[Any] | msgspec.msgpack.Decoder[Any]


_JSON = _Format(
    "JSON",
    msgspec.json.Decoder(Batch),
    msgspec.json.Decoder(_RawBatch),
    msgspec.json.Decoder(Event),  # type: ignore[arg-type]  # a Union is a valid msgspec type
    msgspec.json.Decoder(),
)
_MSGPACK = _Format(
    "MessagePack",
    msgspec.msgpack.Decoder(Batch),
    msgspec.msgpack.Decoder(_RawBatch),
    msgspec.msgpack.Decoder(Event),  # type: ignore[arg-type]  # a Union is a valid msgspec type
    msgspec.msgpack.Decoder(),
)


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    batch_id: str | None
    events: list[Event]
    rejected: list[Rejection]
    total: int


def media_format(content_type: str | None) -> _Format:
    """The decoder set for a ``Content-Type`` header (parameters such as charset ignored)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in MSGPACK_TYPES:
        return _MSGPACK
    if media in JSON_TYPES:
        return _JSON
    raise UnsupportedMediaTypeError(
        f"Content-Type must be application/msgpack or application/json; got {media or 'none'!r}",
        field="Content-Type",
    )


def decompress(body: bytes, encoding: str | None, *, limit: int) -> bytes:
    """Undo ``Content-Encoding: gzip``/``deflate``, refusing output larger than ``limit``."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise UnsupportedMediaTypeError(
            f"Content-Encoding must be gzip, deflate or identity; got {encoding!r}",
            field="Content-Encoding",
        )
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise MalformedBodyError(f"body is not valid {encoding}: {exc}") from exc
    if len(out) > limit:
        raise PayloadTooLargeError(f"decompressed body is larger than the limit of {limit} bytes")
    return out


def decode_batch(body: bytes, fmt: _Format) -> DecodedBatch:
    try:
        batch = fmt.batch.decode(body)
    except msgspec.ValidationError:
        return _decode_each(body, fmt)
    except msgspec.DecodeError as exc:
        raise _malformed(exc, body, fmt) from exc
    return DecodedBatch(batch.batch_id, batch.events, [], len(batch.events))


def _decode_each(body: bytes, fmt: _Format) -> DecodedBatch:
    try:
        raw = fmt.raw_batch.decode(body)
    except msgspec.ValidationError as exc:
        field, reason = _split(str(exc), prefix="")
        raise InvalidInputError(f"{field}: {reason}", field=field) from exc
    except msgspec.DecodeError as exc:  # msgspec validates as it parses: syntax errors show here
        raise _malformed(exc, body, fmt) from exc
    events: list[Event] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(raw.events):
        try:
            events.append(fmt.event.decode(item))
        except msgspec.ValidationError as exc:
            rejected.append(_rejection(index, str(exc), item, fmt))
    return DecodedBatch(raw.batch_id, events, rejected, len(raw.events))


def _malformed(exc: msgspec.DecodeError, body: bytes, fmt: _Format) -> MalformedBodyError:
    """msgspec names the byte of a syntax error; a truncated body ends at its length."""
    message = str(exc)
    if "truncated" in message:
        message += f" (byte {len(body)}, the end of the body)"
    return MalformedBodyError(f"body is not valid {fmt.name}: {message}", field="body")


_AT = re.compile(r"^(?P<reason>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`")
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _split(message: str, *, prefix: str) -> tuple[str, str]:
    """msgspec's "reason - at `$.a.b`" as (``prefix.a.b``, reason)."""
    match = _AT.match(message)
    path, reason = (match.group("path"), match.group("reason")) if match else ("", message)
    missing = _MISSING.match(reason)
    unknown = _UNKNOWN.match(reason)
    if missing:
        path += f".{missing.group('name')}"
        reason = "required field is missing"
    elif unknown:
        path += f".{unknown.group('name')}"
        reason = "unknown field"
    field = (prefix + path).lstrip(".") or "body"
    return field, reason


def _rejection(index: int, message: str, item: msgspec.Raw, fmt: _Format) -> Rejection:
    prefix = f"events[{index}]"
    field, reason = _split(message, prefix=prefix)
    match = _AT.match(message)
    value = _value_at(item, match.group("path") if match else "", fmt)
    if field == f"{prefix}.kind" and reason.startswith("Invalid value"):
        reason = f"unknown event kind {value!r}; expected one of {', '.join(EVENT_KINDS)}"
    elif isinstance(value, float) and not math.isfinite(value):
        reason = f"must be a finite number; got {value!r} (NaN and ±inf are not allowed here)"
    elif value is not _ABSENT and not isinstance(value, dict | list) and reason != "unknown field":
        reason = f"{reason} (value: {_short(value)})"
    return Rejection(index=index, field=field, reason=reason)


_ABSENT: Final = object()


def _value_at(item: msgspec.Raw, path: str, fmt: _Format) -> Any:
    """The offending value, to quote it in the reason (best effort)."""
    try:
        value = fmt.untyped.decode(item)
    except msgspec.DecodeError:
        return _ABSENT
    for name, index in _STEP.findall(path):
        try:
            value = value[name] if name else value[int(index)]
        except (KeyError, IndexError, TypeError):
            return _ABSENT
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
