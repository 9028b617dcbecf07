"""Spans exported by the official OpenTelemetry SDK (OTLP/HTTP, protobuf) to a running
collector become the same predictions as the mlpulse SDK sends for the same traffic."""

from __future__ import annotations

import time

import duckdb
import httpx
import numpy as np
import pytest
from google.rpc.status_pb2 import Status as RpcStatus  # type: ignore[import-untyped]  # googleapis-common-protos ships no stubs
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from mlpulse import Client
from tests.conftest import RunningCollector

N = 600


def _traffic(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "version": np.where(rng.random(N) < 0.6, "v1", "v2"),
        "amount": np.round(rng.lognormal(3.0, 1.0, N), 2),
        "country": rng.choice(["DE", "FR", "US"], N),
        "latency_ms": np.round(rng.lognormal(2.0, 0.5, N), 3),
        "score": np.round(rng.random(N), 4),
        "failed": rng.random(N) < 0.05,
    }


def _summary(collector: RunningCollector, model: str) -> dict[str, dict[str, object]]:
    response = httpx.get(
        f"{collector.url}/v1/models/{model}/summary",
        params={"window": "1h"},
        headers=collector.headers(collector.read_key),
    )
    assert response.status_code == 200, response.text
    return {row["version"]: row for row in response.json()["versions"]}


def _schema(collector: RunningCollector, model: str) -> dict[str, str]:
    models = httpx.get(
        f"{collector.url}/v1/models", headers=collector.headers(collector.read_key)
    ).json()["models"]
    (found,) = [m for m in models if m["model"] == model]
    schema: dict[str, str] = found["schema"]
    return schema


def _otlp_spans(collector: RunningCollector) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(
            httpx.get(
                f"{collector.url}/metrics", headers=collector.headers(collector.read_key)
            ).text
        )
        for sample in family.samples
        if sample.name == "mlpulse_otlp_received_total"
        and sample.labels == {"signal": "traces", "outcome": "ignored"}
    )


def test_otlp_spans_from_opentelemetry_sdk_match_the_sdk_path_for_the_same_traffic(
    collector: RunningCollector,
) -> None:
    traffic = _traffic(7)
    now_ns = time.time_ns()
    provider = TracerProvider(resource=Resource.create({"service.name": "fraud-api"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{collector.url}/v1/traces",
        headers={"Authorization": f"Bearer {collector.ingest_key}"},
    )
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=256))
    tracer = provider.get_tracer("test")
    ids: list[tuple[str, str]] = []  # (trace id, span id) of each prediction span, in hex
    for i in range(N):
        start = now_ns - 60_000_000_000 + i * 10_000_000
        end = start + round(float(traffic["latency_ms"][i]) * 1e6)
        # A parent HTTP span without inference attributes: ignored, not refused.
        parent = tracer.start_span("POST /predict", start_time=start)
        span = tracer.start_span(
            "predict", context=trace.set_span_in_context(parent), start_time=start
        )
        span.set_attributes(
            {
                "mlpulse.model": "otel",
                "mlpulse.version": str(traffic["version"][i]),
                "mlpulse.feature.amount": float(traffic["amount"][i]),
                "mlpulse.feature.country": str(traffic["country"][i]),
                "mlpulse.prediction": 1,
                "mlpulse.score": float(traffic["score"][i]),
            }
        )
        if traffic["failed"][i]:
            span.set_status(Status(StatusCode.ERROR, "ValueError: bad input"))
        span.end(end_time=end)
        parent.end(end_time=end)
        context = span.get_span_context()
        ids.append((f"{context.trace_id:032x}", f"{context.span_id:016x}"))
    assert provider.force_flush(30_000)
    provider.shutdown()

    with Client(collector.url, collector.ingest_key, batch_size=1000) as client:
        for i in range(N):
            end_s = (now_ns - 60_000_000_000 + i * 10_000_000) / 1e9 + traffic["latency_ms"][
                i
            ] / 1e3
            client.log_prediction(
                "sdk",
                str(traffic["version"][i]),
                {"amount": float(traffic["amount"][i]), "country": str(traffic["country"][i])},
                1,
                score=float(traffic["score"][i]),
                latency_ms=float(traffic["latency_ms"][i]),
                error="ValueError: bad input" if traffic["failed"][i] else None,
                timestamp=float(end_s),
            )
        assert client.flush(timeout=30)

    otel, sdk = _summary(collector, "otel"), _summary(collector, "sdk")
    assert set(otel) == set(sdk) == {"v1", "v2"}
    for version in ("v1", "v2"):
        mask = traffic["version"] == version
        assert otel[version]["count"] == sdk[version]["count"] == mask.sum()
        assert otel[version]["errors"] == sdk[version]["errors"] == (traffic["failed"] & mask).sum()
        got = otel[version]["latency_ms"]
        want = sdk[version]["latency_ms"]
        assert isinstance(got, dict) and isinstance(want, dict)
        for p in ("p50", "p95", "p99"):
            assert got[p] == pytest.approx(want[p], abs=1e-6)
    assert _schema(collector, "otel") == _schema(collector, "sdk")
    assert _otlp_spans(collector) == N  # the HTTP parents

    collector.process.stop()  # the event store is the collector's while it runs
    with duckdb.connect(str(collector.process.data_dir / "events.duckdb"), read_only=True) as con:
        rows = {
            model: con.execute(
                "SELECT request_id, trace_id, version, score, latency_ms, error, numbers, strings "
                "FROM predictions WHERE model = ? ORDER BY ts",
                [model],
            ).fetchall()
            for model in ("otel", "sdk")
        }
    assert sorted((r[0], r[1]) for r in rows["otel"]) == sorted((t + s, t) for t, s in ids)
    assert [(r[2], r[3], r[5], r[6], r[7]) for r in rows["otel"]] == [
        (r[2], r[3], r[5], r[6], r[7]) for r in rows["sdk"]
    ]
    # Span durations are whole nanoseconds: the latency agrees to a nanosecond.
    assert [r[4] for r in rows["otel"]] == pytest.approx([r[4] for r in rows["sdk"]], abs=1e-6)


_START_NS = time.time_ns() // 10**9 * 10**9


def test_otlp_answers_an_unreadable_protobuf_body_with_a_protobuf_status(
    shared_collector: RunningCollector,
) -> None:
    response = httpx.post(
        f"{shared_collector.url}/v1/traces",
        content=b"\xff\xff\xff",
        headers={
            **shared_collector.headers(shared_collector.ingest_key),
            "Content-Type": "application/x-protobuf",
        },
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    status = RpcStatus.FromString(response.content)
    assert status.code == 3  # INVALID_ARGUMENT
    assert status.message.startswith("body is not a valid ExportTraceServiceRequest (protobuf): ")


def _json_span(attributes: list[dict[str, object]], *, span_id: str) -> dict[str, object]:
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": span_id,
        "name": "predict",
        "startTimeUnixNano": str(_START_NS),
        "endTimeUnixNano": str(_START_NS + 12_500_000),
        "attributes": attributes,
    }


def _attr(key: str, **value: object) -> dict[str, object]:
    return {"key": key, "value": value}


def test_otlp_json_export_is_stored_and_bad_spans_are_named_in_partial_success(
    shared_collector: RunningCollector,
) -> None:
    model = [
        _attr("mlpulse.model", stringValue="otlp-json"),
        _attr("mlpulse.version", stringValue="v1"),
    ]
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr("service.name", stringValue="api")]},
                "scopeSpans": [
                    {
                        "spans": [
                            _json_span(
                                [*model, _attr("mlpulse.feature.tokens", intValue="42")],
                                span_id="eee19b7ec3c1b174",
                            ),
                            _json_span(
                                [*model, _attr("mlpulse.score", stringValue="high")],
                                span_id="eee19b7ec3c1b175",
                            ),
                            _json_span(
                                [_attr("http.route", stringValue="/")], span_id="eee19b7ec3c1b176"
                            ),
                        ]
                    }
                ],
            }
        ]
    }
    url = f"{shared_collector.url}/v1/traces"
    headers = shared_collector.headers(shared_collector.ingest_key)
    response = httpx.post(url, json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert partial["errorMessage"] == (
        'resourceSpans[0].scopeSpans[0].spans[1].attributes["mlpulse.score"]: '
        "Expected `float | null`, got `str`"
    )
    # The exporter retries the same bytes after a lost answer: stored once.
    again = httpx.post(url, json=body, headers=headers)
    assert again.status_code == 200
    rows = _summary(shared_collector, "otlp-json")
    assert rows["v1"]["count"] == 1
    latency = rows["v1"]["latency_ms"]
    assert isinstance(latency, dict) and latency["p50"] == pytest.approx(12.5)


@pytest.mark.parametrize(
    ("content_type", "body", "status", "field"),
    [
        ("text/plain", b"x", 415, "Content-Type"),
        (
            "application/json",
            b'{"resourceSpans": [{"scopeSpans": 3}]}',
            400,
            "resourceSpans[0].scopeSpans",
        ),
        (
            "application/json",
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
            400,
            "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano",
        ),
    ],
)
def test_otlp_refuses_a_body_it_cannot_read_naming_the_field(
    shared_collector: RunningCollector, content_type: str, body: bytes, status: int, field: str
) -> None:
    response = httpx.post(
        f"{shared_collector.url}/v1/traces",
        content=body,
        headers={
            **shared_collector.headers(shared_collector.ingest_key),
            "Content-Type": content_type,
        },
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field
