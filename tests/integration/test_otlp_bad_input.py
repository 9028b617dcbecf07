"""``POST /v1/traces`` over real HTTP: compression, the body and nesting limits, the
ingest screen's refusals named by span and attribute, and protobuf answers."""

from __future__ import annotations

import gzip
import time
from typing import TYPE_CHECKING

import httpx
from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]  # googleapis-common-protos ships no stubs
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

if TYPE_CHECKING:
    from tests.conftest import RunningCollector

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def _request(model: str, attributes: list[dict[str, AnyValue]]) -> ExportTraceServiceRequest:
    """One span per entry of ``attributes``, all of ``model`` version v1."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    now = time.time_ns()
    for i, extra in enumerate(attributes):
        span = spans.add(
            trace_id=bytes(range(16)),
            span_id=i.to_bytes(8, "big"),
            name="predict",
            start_time_unix_nano=now - 4_000_000,
            end_time_unix_nano=now,
        )
        fixed = {"mlpulse.model": AnyValue(string_value=model)}
        fixed["mlpulse.version"] = AnyValue(string_value="v1")
        span.attributes.extend(KeyValue(key=k, value=v) for k, v in {**fixed, **extra}.items())
    return request


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (payloads here stay under 2**14 bytes)."""
    size = len(payload)
    assert size < 2**14
    varint = bytes([size]) if size < 128 else bytes([size & 0x7F | 0x80, size >> 7])
    return bytes([number << 3 | 2]) + varint + payload


def _post(
    collector: RunningCollector, body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(
        f"{collector.url}/v1/traces",
        content=body,
        headers={**collector.headers(collector.ingest_key), **PROTOBUF, **(headers or {})},
    )


def _count(collector: RunningCollector, model: str) -> int:
    response = httpx.get(
        f"{collector.url}/v1/models/{model}/summary",
        params={"window": "1h"},
        headers=collector.headers(collector.read_key),
    )
    if response.status_code == 404:
        return 0
    return sum(row["count"] for row in response.json()["versions"])


def test_otlp_accepts_gzip_protobuf_and_answers_in_protobuf(
    shared_collector: RunningCollector,
) -> None:
    body = _request("otlp-gzip", [{}, {"mlpulse.score": AnyValue(double_value=0.5)}])

    response = _post(
        shared_collector,
        gzip.compress(body.SerializeToString()),
        {"Content-Encoding": "gzip"},
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert not answer.HasField("partial_success")
    assert _count(shared_collector, "otlp-gzip") == 2


def test_otlp_names_span_and_attribute_when_the_screen_refuses_a_name(
    shared_collector: RunningCollector,
) -> None:
    body = _request(
        "otlp-screen",
        [
            {"mlpulse.feature.ok": AnyValue(int_value=1)},
            {"mlpulse.feature.bad\x07name": AnyValue(int_value=1)},
            {"mlpulse.segment.region": AnyValue(string_value="eu\x00")},
        ],
    )

    response = _post(shared_collector, body.SerializeToString())

    assert response.status_code == 200, response.text
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 2
    message = partial.error_message
    assert 'spans[1].attributes["mlpulse.feature.bad\\x07name"]: must not contain' in message
    assert 'spans[2].attributes["mlpulse.segment.*"]: ' in message, message
    assert _count(shared_collector, "otlp-screen") == 1


def test_otlp_refuses_a_body_over_the_limit_with_413(shared_collector: RunningCollector) -> None:
    big = AnyValue(string_value="x" * 9_000)
    body = _request("otlp-big", [{"mlpulse.feature.text": big}] * 40).SerializeToString()
    assert len(body) > 256 * 1024  # the shared collector's limit

    response = _post(shared_collector, body)

    assert response.status_code == 413, response.text
    status = Status.FromString(response.content)  # OTLP: a google.rpc.Status, in protobuf
    limit = f"body of {len(body)} bytes is over the limit of 262144 bytes"
    assert (status.code, status.message) == (8, limit)
    assert _count(shared_collector, "otlp-big") == 0


def test_otlp_refuses_deeply_nested_attributes_with_400(
    shared_collector: RunningCollector,
) -> None:
    # Built byte by byte: the protobuf library refuses to build a message this deep.
    value = AnyValue(string_value="leaf").SerializeToString()
    for _ in range(200):
        value = _field(5, _field(1, value))  # AnyValue.array_value.values[0]
    attribute = _field(1, b"mlpulse.model") + _field(2, value)  # KeyValue
    # ExportTraceServiceRequest.resource_spans[0].scope_spans[0].spans[0].attributes[0]
    protobuf = _field(1, _field(2, _field(2, _field(9, attribute))))
    json = (
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "k", "value": '
        + b'{"arrayValue": {"values": [' * 100
        + b"]}}" * 100
        + b"}]}]}]}]}"
    )

    deep_protobuf = _post(shared_collector, protobuf)
    deep_json = _post(shared_collector, json, {"Content-Type": "application/json"})

    assert deep_protobuf.status_code == 400, deep_protobuf.text
    assert (
        "not a valid ExportTraceServiceRequest" in Status.FromString(deep_protobuf.content).message
    )
    assert deep_json.status_code == 400, deep_json.text
    assert "deeper than the limit" in deep_json.json()["error"]["message"]
    assert _count(shared_collector, "otlp-deep") == 0


def test_otlp_refuses_a_key_without_the_ingest_scope(shared_collector: RunningCollector) -> None:
    body = _request("otlp-auth", [{}]).SerializeToString()

    response = _post(shared_collector, body, shared_collector.headers(shared_collector.read_key))

    assert response.status_code == 403
    assert "'ingest' scope" in response.json()["error"]["message"]
