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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from mlpulse.domain.blocks import block_rows, blocks_from_rows, misaligned_column
from mlpulse.domain.events import (
    BLOCK_COLUMNS,
    EVENT_KINDS,
    MAX_FEATURES,
    Batch,
    BatchId,
    Event,
    FeatureValue,
    Name,
    Prediction,
    PredictionBlock,
    Probability,
)
from mlpulse.domain.ingest import Rejection
from mlpulse.errors import (
    InvalidInputError,
    MalformedBodyError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from mlpulse.server.nesting import check_json_depth, check_msgpack_depth, too_deep
from mlpulse.server.validation_errors import AT, field_and_reason

MSGPACK_TYPES: Final = frozenset(
    {"application/msgpack", "application/x-msgpack", "application/vnd.msgpack"}
)
JSON_TYPES: Final = frozenset({"application/json"})


class _RawBatch(msgspec.Struct, forbid_unknown_fields=True):
    events: list[msgspec.Raw] = msgspec.field(default_factory=list)
    predictions: list[msgspec.Raw] = msgspec.field(default_factory=list)
    batch_id: BatchId | None = None


@dataclass(frozen=True, slots=True)
class _Format:
    name: str
    batch: msgspec.json.Decoder[Batch] | msgspec.msgpack.Decoder[Batch]
    raw_batch: msgspec.json.Decoder[_RawBatch] | msgspec.msgpack.Decoder[_RawBatch]
    event: msgspec.json.Decoder[Event] | msgspec.msgpack.Decoder[Event]
    block: msgspec.json.Decoder[PredictionBlock] | msgspec.msgpack.Decoder[PredictionBlock]
    untyped: msgspec.json.Decoder[Any] | msgspec.msgpack.Decoder[Any]
    encode: Callable[[Any], bytes]
    check_depth: Callable[[bytes], None]


def _format(name: str, codec: Any, check_depth: Callable[[bytes], None]) -> _Format:
    """Decoders for one wire format; ``codec`` is ``msgspec.json`` or ``msgspec.msgpack``."""
    return _Format(
        name,
        codec.Decoder(Batch),
        codec.Decoder(_RawBatch),
        codec.Decoder(Event),
        codec.Decoder(PredictionBlock),
        codec.Decoder(),
        codec.Encoder().encode,
        check_depth,
    )


_JSON = _format("JSON", msgspec.json, check_json_depth)
_MSGPACK = _format("MessagePack", msgspec.msgpack, check_msgpack_depth)


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """The valid events, and where each came from: ``event_indexes[i]`` is the position
    of ``events[i]`` in the batch, ``block_places[j]`` the block number of ``blocks[j]``
    and the positions of its rows (what a later check names when it refuses them)."""

    batch_id: str | None
    events: list[Event]
    blocks: list[PredictionBlock]
    rejected: list[Rejection]
    event_indexes: Sequence[int]
    block_places: list[tuple[int, Sequence[int]]]


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
    """The valid events of ``body``, and a :class:`Rejection` for each invalid one.

    A batch the typed decoder accepts nests only as deep as its types (a few levels),
    so the nesting limit is checked only before the slower paths that decode parts of
    the body untyped, and when the decoder itself gives up on the depth."""
    try:
        batch = fmt.batch.decode(body)
    except msgspec.ValidationError:
        fmt.check_depth(body)
        return _decode_each(body, fmt)
    except msgspec.DecodeError as exc:
        fmt.check_depth(body)
        raise _malformed(exc, body, fmt) from exc
    except RecursionError:
        raise too_deep() from None
    blocks: list[PredictionBlock] = []
    rejected: list[Rejection] = []
    places: list[tuple[int, Sequence[int]]] = []
    offset = len(batch.events)
    for b, block in enumerate(batch.predictions):
        offset += _keep_aligned(b, block, offset, blocks, rejected, places)
    return DecodedBatch(
        batch.batch_id, batch.events, blocks, rejected, range(len(batch.events)), places
    )


def _decode_each(body: bytes, fmt: _Format) -> DecodedBatch:
    try:
        raw = fmt.raw_batch.decode(body)
    except msgspec.ValidationError as exc:
        field, reason = field_and_reason(str(exc), prefix="")
        raise InvalidInputError(f"{field}: {reason}", field=field) from exc
    except msgspec.DecodeError as exc:  # msgspec validates as it parses: syntax errors show here
        raise _malformed(exc, body, fmt) from exc
    events: list[Event] = []
    indexes: list[int] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(raw.events):
        try:
            events.append(fmt.event.decode(item))
        except msgspec.ValidationError as exc:
            rejected.append(_rejection(index, str(exc), item, fmt, f"events[{index}]"))
        else:
            indexes.append(index)
    blocks: list[PredictionBlock] = []
    places: list[tuple[int, Sequence[int]]] = []
    offset = len(raw.events)
    for b, item in enumerate(raw.predictions):
        try:
            block = fmt.block.decode(item)
        except msgspec.ValidationError:
            offset += _salvage_block(b, item, offset, fmt, blocks, rejected, places)
        else:
            offset += _keep_aligned(b, block, offset, blocks, rejected, places)
    return DecodedBatch(raw.batch_id, events, blocks, rejected, indexes, places)


def _keep_aligned(
    b: int,
    block: PredictionBlock,
    offset: int,
    blocks: list[PredictionBlock],
    rejected: list[Rejection],
    places: list[tuple[int, Sequence[int]]],
) -> int:
    """Keep ``block`` if its columns line up, else reject its rows; returns its row count."""
    n = len(block.request_id)
    problem = misaligned_column(block)
    if problem is None:
        if n:
            blocks.append(block)
            places.append((b, range(offset, offset + n)))
    else:
        column, length = problem
        reason = f"has {length} values; request_id has {n}"
        rejected.extend(_whole_block(b, column, reason, offset, n))
    return n


def _whole_block(b: int, column: str, reason: str, offset: int, n: int) -> list[Rejection]:
    field = f"predictions[{b}].{column}"
    return [Rejection(index=offset + i, field=field, reason=reason) for i in range(max(n, 1))]


def block_rejections(b: int, field: str, reason: str, rows: Sequence[int]) -> list[Rejection]:
    """Every row of a block refused for one reason, ``field`` named within the block."""
    named = f"predictions[{b}].{field}"
    return [Rejection(index=i, field=named, reason=reason) for i in rows]


def _salvage_block(
    b: int,
    item: msgspec.Raw,
    offset: int,
    fmt: _Format,
    blocks: list[PredictionBlock],
    rejected: list[Rejection],
    places: list[tuple[int, Sequence[int]]],
) -> int:
    """Validate a block that failed as a whole row by row; keep the valid rows."""
    plain = fmt.untyped.decode(item)
    if not isinstance(plain, dict) or not isinstance(plain.get("request_id"), list):
        reason = "must be an object with a request_id list (see PredictionBlock)"
        rejected.append(Rejection(index=offset, field=f"predictions[{b}]", reason=reason))
        return 1
    n = len(plain["request_id"])
    for column, values in _columns_of(plain):
        if not isinstance(values, list) or len(values) != n:
            length = len(values) if isinstance(values, list) else None
            reason = (
                "must be a list" if length is None else f"has {length} values; request_id has {n}"
            )
            rejected.extend(_whole_block(b, column, reason, offset, n))
            return max(n, 1)
    unknown = set(plain) - _BLOCK_FIELDS
    if unknown:
        rejected.extend(_whole_block(b, sorted(unknown)[0], "unknown field", offset, n))
        return max(n, 1)
    if isinstance(plain.get("features"), dict) and len(plain["features"]) > MAX_FEATURES:
        # Checked before the rows: validating each row of thousands of columns is slow.
        reason = f"has {len(plain['features'])} feature names; the limit is {MAX_FEATURES}"
        rejected.extend(_whole_block(b, "features", reason, offset, n))
        return max(n, 1)
    valid: list[Prediction] = []
    rows: list[int] = []
    for i, row in enumerate(block_rows(plain)):
        encoded = fmt.encode(row)
        try:
            event = fmt.event.decode(encoded)
        except msgspec.ValidationError as exc:
            rejected.append(
                _rejection(offset + i, str(exc), encoded, fmt, f"predictions[{b}]", row=i)
            )
        else:
            assert isinstance(event, Prediction)
            valid.append(event)
            rows.append(offset + i)
    if valid:  # one model and version: one block
        blocks.extend(blocks_from_rows(valid))
        places.append((b, rows))
    return n


_BLOCK_FIELDS: Final = frozenset(PredictionBlock.__struct_fields__)


def _columns_of(plain: dict[str, Any]) -> Iterator[tuple[str, object]]:
    for column in BLOCK_COLUMNS:
        if plain.get(column) is not None:
            yield column, plain[column]
    features = plain.get("features", {})
    if not isinstance(features, dict):
        yield "features", features
        return
    for name, values in features.items():
        yield f"features.{name}", values


def _malformed(exc: msgspec.DecodeError, body: bytes, fmt: _Format) -> MalformedBodyError:
    """msgspec names the byte of a syntax error; a truncated body ends at its length."""
    message = str(exc)
    if "truncated" in message:
        message += f" (byte {len(body)}, the end of the body)"
    return MalformedBodyError(f"body is not valid {fmt.name}: {message}", field="body")


_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _rejection(
    index: int,
    message: str,
    item: bytes | msgspec.Raw,
    fmt: _Format,
    prefix: str,
    *,
    row: int | None = None,
) -> Rejection:
    """A rejection naming the field; ``row`` is set for a row of a column block."""
    match = AT.match(message)
    path = match.group("path") if match else ""
    if "[...]" in path:  # msgspec does not name dict keys: find the offending one
        named = _name_dict_key(path, item, fmt)
        message = message.replace(f"`${path}`", f"`${named}`")
        path = named
    field, reason = field_and_reason(message, prefix=prefix)
    if row is not None:
        field = _block_field(prefix, field[len(prefix) :], row)
    value = _value_at(item, path, fmt)
    if path == ".kind" and reason.startswith("Invalid value"):
        reason = f"unknown event kind {value!r}; expected one of {', '.join(EVENT_KINDS)}"
    elif isinstance(value, float) and not math.isfinite(value):
        reason = f"must be a finite number; got {value!r} (NaN and ±inf are not allowed here)"
    elif value is not _ABSENT and not isinstance(value, dict | list) and reason != "unknown field":
        reason = f"{reason} (value: {_short(value)})"
    return Rejection(index=index, field=field, reason=reason)


def _block_field(prefix: str, path: str, row: int) -> str:
    """``.features.amount`` of row 7 → ``predictions[0].features.amount[7]``."""
    steps = path.lstrip(".").split(".", 2)
    if steps[0] in ("model", "version", ""):
        return prefix + path
    if steps[0] == "features" and len(steps) > 1:
        rest = "." + steps[2] if len(steps) > 2 else ""
        return f"{prefix}.features.{steps[1]}[{row}]{rest}"
    head, _, tail = path.lstrip(".").partition(".")
    column, bracket, sub = head.partition("[")
    return (
        f"{prefix}.{column}[{row}]" + (f"[{sub}" if bracket else "") + (f".{tail}" if tail else "")
    )


_ABSENT: Final = object()
# The value type of each mapping field of an event, to find which entry is invalid.
_ENTRY_TYPES: Final[dict[str, Any]] = {
    "features": FeatureValue,
    "probabilities": Probability,
    "segment": Name,
}


def _name_dict_key(path: str, item: bytes | msgspec.Raw, fmt: _Format) -> str:
    """``.features[...]`` → ``.features.amount``: the first entry that does not validate."""
    head, _, tail = path.partition("[...]")
    entry_type = _ENTRY_TYPES.get(head.lstrip("."))
    mapping = _value_at(item, head, fmt)
    if entry_type is None or not isinstance(mapping, dict):
        return path
    for key, value in mapping.items():
        try:
            msgspec.convert(key, Name)
            msgspec.convert(value, entry_type)
        except msgspec.ValidationError:
            return f"{head}.{key}{tail}"
    return path


def _value_at(item: bytes | msgspec.Raw, path: str, fmt: _Format) -> Any:
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
