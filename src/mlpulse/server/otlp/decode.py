"""OTLP/HTTP trace requests (protobuf or JSON) to :class:`mlpulse.domain.otlp.Span` values,
and the ``ExportTraceServiceResponse`` in the request's encoding.

Protobuf is decoded by the official ``opentelemetry-proto`` classes. JSON follows the
OTLP/JSON mapping (lowerCamelCase keys, hex trace and span ids, 64-bit integers as
decimal strings or numbers, enums as numbers or names) and is decoded with msgspec
against the structs below, so a body that does not fit names the field.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from typing import Final

import msgspec
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from mlpulse.domain.otlp import AttributeValue, Span
from mlpulse.errors import MalformedBodyError, UnsupportedMediaTypeError
from mlpulse.server.nesting import check_json_depth
from mlpulse.server.validation_errors import field_and_reason

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
_STATUS_ERROR: Final = 2  # Status.STATUS_CODE_ERROR


def media_type(content_type: str | None) -> str:
    """``application/x-protobuf`` or ``application/json``, else a 415 naming the header."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in (PROTOBUF, JSON):
        return media
    raise UnsupportedMediaTypeError(
        f"Content-Type must be {PROTOBUF} or {JSON} (OTLP/HTTP); got {media or 'none'!r}",
        field="Content-Type",
    )


def decode_spans(body: bytes, media: str) -> list[Span]:
    """Every span of an ``ExportTraceServiceRequest`` body, in order."""
    return list(_protobuf_spans(body) if media == PROTOBUF else _json_spans(body))


def encode_response(media: str, *, rejected: int, message: str) -> bytes:
    """An ``ExportTraceServiceResponse``; ``partial_success`` only when there is news."""
    if media == PROTOBUF:
        response = ExportTraceServiceResponse()
        if rejected or message:
            response.partial_success.CopyFrom(
                ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
            )
        return response.SerializeToString()
    if not (rejected or message):
        return b"{}"
    partial = {"rejectedSpans": str(rejected), "errorMessage": message}
    return msgspec.json.encode({"partialSuccess": partial})


# gRPC status codes for the HTTP statuses an export can fail with (OTLP/HTTP answers a
# protobuf request's failure with a google.rpc.Status in protobuf).
_GRPC_CODES: Final = {400: 3, 413: 8, 429: 8, 503: 14}  # INVALID_ARGUMENT, RESOURCE_EXHAUSTED


def encode_status(http_status: int, message: str) -> bytes:
    """A ``google.rpc.Status`` (code = 1, message = 2), encoded by hand: its class is in
    googleapis-common-protos, which the collector does not otherwise need."""
    code = _GRPC_CODES.get(http_status, 2)  # UNKNOWN
    text = message.encode()
    size, length = len(text), bytearray()
    while True:  # the message's length as a varint
        byte, size = size & 0x7F, size >> 7
        length.append(byte | (0x80 if size else 0))
        if not size:
            break
    return bytes([0x08, code, 0x12]) + bytes(length) + text


# --- protobuf -----------------------------------------------------------------------------


def _protobuf_spans(body: bytes) -> Iterator[Span]:
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except (DecodeError, RecursionError) as exc:
        raise MalformedBodyError(
            f"body is not a valid ExportTraceServiceRequest (protobuf): {exc}", field="body"
        ) from exc
    for r, resource_spans in enumerate(request.resource_spans):
        resource = proto_attributes(resource_spans.resource.attributes)
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            for i, span in enumerate(scope_spans.spans):
                yield Span(
                    where=f"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]",
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano,
                    attributes=proto_attributes(span.attributes),
                    resource=resource,
                    status_error=span.status.code == _STATUS_ERROR,
                    status_message=span.status.message,
                )


def proto_attributes(pairs: Iterable[KeyValue]) -> dict[str, AttributeValue]:
    return {pair.key: proto_value(pair.value) for pair in pairs}


def proto_value(value: AnyValue) -> AttributeValue:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [proto_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return proto_attributes(value.kvlist_value.values)
    scalar: AttributeValue = getattr(value, kind)
    return scalar


# --- JSON ---------------------------------------------------------------------------------

Int64 = int | str  # OTLP/JSON writes 64-bit integers as decimal strings (numbers also accepted)


class AnyValueJson(msgspec.Struct, rename="camel"):
    string_value: str | None = None
    bool_value: bool | None = None
    int_value: Int64 | None = None
    double_value: float | str | None = None  # "NaN", "Infinity" as strings
    bytes_value: str | None = None  # base64
    array_value: ArrayValueJson | None = None
    kvlist_value: KeyValueListJson | None = None


class ArrayValueJson(msgspec.Struct):
    values: list[AnyValueJson] = msgspec.field(default_factory=list)


class KeyValueJson(msgspec.Struct):
    key: str
    value: AnyValueJson | None = None


class KeyValueListJson(msgspec.Struct):
    values: list[KeyValueJson] = msgspec.field(default_factory=list)


class _Status(msgspec.Struct):
    code: int | str = 0
    message: str = ""


class _Span(msgspec.Struct, rename="camel"):
    trace_id: str = ""
    span_id: str = ""
    name: str = ""
    start_time_unix_nano: Int64 = 0
    end_time_unix_nano: Int64 = 0
    attributes: list[KeyValueJson] = msgspec.field(default_factory=list)
    status: _Status | None = None


class _ScopeSpans(msgspec.Struct, rename="camel"):
    spans: list[_Span] = msgspec.field(default_factory=list)


class ResourceJson(msgspec.Struct):
    attributes: list[KeyValueJson] = msgspec.field(default_factory=list)


class _ResourceSpans(msgspec.Struct, rename="camel"):
    resource: ResourceJson | None = None
    scope_spans: list[_ScopeSpans] = msgspec.field(default_factory=list)


class _Request(msgspec.Struct, rename="camel"):
    resource_spans: list[_ResourceSpans] = msgspec.field(default_factory=list)


_json_request = msgspec.json.Decoder(_Request)


def _json_spans(body: bytes) -> Iterator[Span]:
    check_json_depth(body)
    try:
        request = _json_request.decode(body)
    except msgspec.ValidationError as exc:
        field, reason = field_and_reason(str(exc), prefix="")
        raise MalformedBodyError(
            f"body is not a valid OTLP/JSON ExportTraceServiceRequest: {field}: {reason}",
            field=field,
        ) from exc
    except msgspec.DecodeError as exc:
        raise MalformedBodyError(f"body is not valid JSON: {exc}", field="body") from exc
    for r, resource_spans in enumerate(request.resource_spans):
        where = f"resourceSpans[{r}]"
        resource_attrs = resource_spans.resource.attributes if resource_spans.resource else []
        resource = json_attributes(resource_attrs, f"{where}.resource")
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            for i, span in enumerate(scope_spans.spans):
                at = f"{where}.scopeSpans[{s}].spans[{i}]"
                status = span.status or _Status()
                yield Span(
                    where=at,
                    trace_id=span.trace_id.lower(),
                    span_id=span.span_id.lower(),
                    start_ns=to_int64(span.start_time_unix_nano, f"{at}.startTimeUnixNano"),
                    end_ns=to_int64(span.end_time_unix_nano, f"{at}.endTimeUnixNano"),
                    attributes=json_attributes(span.attributes, at),
                    resource=resource,
                    status_error=status.code in (_STATUS_ERROR, "STATUS_CODE_ERROR"),
                    status_message=status.message,
                )


def json_attributes(pairs: list[KeyValueJson], where: str) -> dict[str, AttributeValue]:
    return {pair.key: json_value(pair.value, f'{where}.attributes["{pair.key}"]') for pair in pairs}


def json_value(value: AnyValueJson | None, where: str) -> AttributeValue:
    if value is None:
        return None
    if value.string_value is not None:
        return value.string_value
    if value.bool_value is not None:
        return value.bool_value
    if value.int_value is not None:
        return to_int64(value.int_value, f"{where}.intValue")
    if value.double_value is not None:
        if isinstance(value.double_value, str):
            try:
                return float(value.double_value)
            except ValueError:
                raise _bad(f"{where}.doubleValue", value.double_value, "a number") from None
        return value.double_value
    if value.bytes_value is not None:
        try:
            return base64.b64decode(value.bytes_value, validate=True)
        except ValueError:
            raise _bad(f"{where}.bytesValue", value.bytes_value, "base64") from None
    if value.array_value is not None:
        return [json_value(v, f"{where}.arrayValue") for v in value.array_value.values]
    if value.kvlist_value is not None:
        return json_attributes(value.kvlist_value.values, f"{where}.kvlistValue")
    return None


def to_int64(value: int | str, where: str) -> int:
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except ValueError:
        raise _bad(where, value, "a 64-bit integer (a decimal string)") from None


def _bad(field: str, value: str, expected: str) -> MalformedBodyError:
    shown = value if len(value) <= 40 else value[:37] + "..."
    return MalformedBodyError(f"{field}: expected {expected}; got {shown!r}", field=field)
