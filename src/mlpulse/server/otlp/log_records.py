"""OTLP/HTTP log requests (protobuf or JSON) to :class:`mlpulse.domain.otlp.Span` values,
and the ``ExportLogsServiceResponse``.

A log record has no duration: its latency comes from ``mlpulse.latency_ms`` only. Its
time is ``timeUnixNano`` (else ``observedTimeUnixNano``); a severity of ERROR or above
(number 17 and up) marks the prediction as an error, with the record's body as the
message when the body is a string. A record without a trace id gets a request id made
of the request's digest and the record's number, so a retried export keeps its ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

import msgspec
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from mlpulse.domain.otlp import AttributeValue, Span
from mlpulse.errors import MalformedBodyError
from mlpulse.server.nesting import check_json_depth
from mlpulse.server.otlp.decode import (
    PROTOBUF,
    AnyValueJson,
    Int64,
    KeyValueJson,
    ResourceJson,
    json_attributes,
    json_value,
    proto_attributes,
    proto_value,
    to_int64,
)
from mlpulse.server.validation_errors import field_and_reason

_SEVERITY_ERROR: Final = 17  # SEVERITY_NUMBER_ERROR; ERROR2..4 and FATAL* are above


def decode_log_records(body: bytes, media: str, *, id_prefix: str) -> list[Span]:
    """Every log record of an ``ExportLogsServiceRequest`` body, in order."""
    records = _protobuf_records if media == PROTOBUF else _json_records
    return list(records(body, id_prefix))


def encode_logs_response(media: str, *, rejected: int, message: str) -> bytes:
    """An ``ExportLogsServiceResponse``; ``partial_success`` only when there is news."""
    if media == PROTOBUF:
        response = ExportLogsServiceResponse()
        if rejected or message:
            response.partial_success.CopyFrom(
                ExportLogsPartialSuccess(rejected_log_records=rejected, error_message=message)
            )
        return response.SerializeToString()
    if not (rejected or message):
        return b"{}"
    partial = {"rejectedLogRecords": str(rejected), "errorMessage": message}
    return msgspec.json.encode({"partialSuccess": partial})


def _record(
    where: str,
    number: int,
    id_prefix: str,
    *,
    trace_id: str,
    span_id: str,
    time_ns: int,
    severity: int,
    body: AttributeValue,
    attributes: Mapping[str, AttributeValue],
    resource: Mapping[str, AttributeValue],
) -> Span:
    error = severity >= _SEVERITY_ERROR
    return Span(
        where=where,
        trace_id=trace_id,
        span_id=span_id,
        start_ns=0,
        end_ns=time_ns,
        attributes=attributes,
        resource=resource,
        status_error=error,
        status_message=body if error and isinstance(body, str) else "",
        request_id=f"{id_prefix}-{number}",
    )


def _protobuf_records(body: bytes, id_prefix: str) -> Iterator[Span]:
    try:
        request = ExportLogsServiceRequest.FromString(body)
    except (DecodeError, RecursionError) as exc:
        raise MalformedBodyError(
            f"body is not a valid ExportLogsServiceRequest (protobuf): {exc}", field="body"
        ) from exc
    number = 0
    for r, resource_logs in enumerate(request.resource_logs):
        resource = proto_attributes(resource_logs.resource.attributes)
        for s, scope_logs in enumerate(resource_logs.scope_logs):
            for i, record in enumerate(scope_logs.log_records):
                yield _record(
                    f"resourceLogs[{r}].scopeLogs[{s}].logRecords[{i}]",
                    number,
                    id_prefix,
                    trace_id=record.trace_id.hex(),
                    span_id=record.span_id.hex(),
                    time_ns=record.time_unix_nano or record.observed_time_unix_nano,
                    severity=record.severity_number,
                    body=proto_value(record.body),
                    attributes=proto_attributes(record.attributes),
                    resource=resource,
                )
                number += 1


class _LogRecord(msgspec.Struct, rename="camel"):
    time_unix_nano: Int64 = 0
    observed_time_unix_nano: Int64 = 0
    severity_number: int | str = 0
    body: AnyValueJson | None = None
    attributes: list[KeyValueJson] = msgspec.field(default_factory=list)
    trace_id: str = ""
    span_id: str = ""


class _ScopeLogs(msgspec.Struct, rename="camel"):
    log_records: list[_LogRecord] = msgspec.field(default_factory=list)


class _ResourceLogs(msgspec.Struct, rename="camel"):
    resource: ResourceJson | None = None
    scope_logs: list[_ScopeLogs] = msgspec.field(default_factory=list)


class _LogsRequest(msgspec.Struct, rename="camel"):
    resource_logs: list[_ResourceLogs] = msgspec.field(default_factory=list)


_json_request = msgspec.json.Decoder(_LogsRequest)
# Enum names OTLP/JSON may send instead of numbers, for the levels that are errors.
_ERROR_NAMES: Final = frozenset(
    f"SEVERITY_NUMBER_{level}{n}" for level in ("ERROR", "FATAL") for n in ("", "2", "3", "4")
)


def _json_records(body: bytes, id_prefix: str) -> Iterator[Span]:
    check_json_depth(body)
    try:
        request = _json_request.decode(body)
    except msgspec.ValidationError as exc:
        field, reason = field_and_reason(str(exc), prefix="")
        raise MalformedBodyError(
            f"body is not a valid OTLP/JSON ExportLogsServiceRequest: {field}: {reason}",
            field=field,
        ) from exc
    except msgspec.DecodeError as exc:
        raise MalformedBodyError(f"body is not valid JSON: {exc}", field="body") from exc
    number = 0
    for r, resource_logs in enumerate(request.resource_logs):
        where = f"resourceLogs[{r}]"
        attrs = resource_logs.resource.attributes if resource_logs.resource else []
        resource = json_attributes(attrs, f"{where}.resource")
        for s, scope_logs in enumerate(resource_logs.scope_logs):
            for i, record in enumerate(scope_logs.log_records):
                at = f"{where}.scopeLogs[{s}].logRecords[{i}]"
                severity = record.severity_number
                if isinstance(severity, str):
                    severity = _SEVERITY_ERROR if severity in _ERROR_NAMES else 0
                time_ns = to_int64(record.time_unix_nano, f"{at}.timeUnixNano")
                yield _record(
                    at,
                    number,
                    id_prefix,
                    trace_id=record.trace_id.lower(),
                    span_id=record.span_id.lower(),
                    time_ns=time_ns
                    or to_int64(record.observed_time_unix_nano, f"{at}.observedTimeUnixNano"),
                    severity=severity,
                    body=json_value(record.body, f"{at}.body"),
                    attributes=json_attributes(record.attributes, at),
                    resource=resource,
                )
                number += 1
