"""Log records exported by the official OpenTelemetry SDK (its Logs API, OTLP/HTTP
protobuf) and by hand (OTLP/JSON) become predictions on a running collector."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from tests.conftest import RunningCollector


def _summary(collector: RunningCollector, model: str) -> dict[str, dict[str, object]]:
    response = httpx.get(
        f"{collector.url}/v1/models/{model}/summary",
        params={"window": "1h"},
        headers=collector.headers(collector.read_key),
    )
    assert response.status_code == 200, response.text
    return {row["version"]: row for row in response.json()["versions"]}


def test_otlp_log_records_from_python_logging_become_predictions(
    shared_collector: RunningCollector,
) -> None:
    rng = np.random.default_rng(3)
    n = 300
    latencies = np.round(rng.lognormal(2.0, 0.5, n), 3)
    failed = rng.random(n) < 0.1
    provider = LoggerProvider(resource=Resource.create({"service.version": "2.0.1"}))
    exporter = OTLPLogExporter(
        endpoint=f"{shared_collector.url}/v1/logs",
        headers={"X-API-Key": shared_collector.ingest_key},
    )
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    logger = provider.get_logger("test")
    try:
        logger.emit(body="service started", severity_number=SeverityNumber.INFO)  # ignored
        for i in range(n):
            logger.emit(
                timestamp=time.time_ns(),
                body="ValueError: bad input" if failed[i] else "scored",
                severity_number=SeverityNumber.ERROR if failed[i] else SeverityNumber.INFO,
                attributes={
                    "mlpulse.model": "otlp-logs",
                    "mlpulse.feature.amount": float(i),
                    "mlpulse.latency_ms": float(latencies[i]),
                },
            )
        assert provider.force_flush(30_000)
    finally:
        provider.shutdown()

    (row,) = _summary(shared_collector, "otlp-logs").values()
    assert row["version"] == "2.0.1"  # from the resource's service.version
    assert row["count"] == n
    assert row["errors"] == failed.sum()
    latency = row["latency_ms"]
    assert isinstance(latency, dict)
    assert [latency[p] for p in ("p50", "p95", "p99")] == pytest.approx(
        np.percentile(latencies, [50, 95, 99])
    )


def test_otlp_json_log_records_without_trace_ids_are_stored_once(
    shared_collector: RunningCollector,
) -> None:
    now = str(time.time_ns())

    def record(severity: int, score: object) -> dict[str, object]:
        return {
            "timeUnixNano": now,
            "severityNumber": severity,
            "body": {"stringValue": "model timed out"},
            "attributes": [
                {"key": "gen_ai.request.model", "value": {"stringValue": "otlp-json-logs"}},
                {"key": "gen_ai.response.model", "value": {"stringValue": "m-2026"}},
                {"key": "mlpulse.score", "value": score},
            ],
        }

    body = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "logRecords": [
                            record(9, {"doubleValue": 0.5}),
                            record(17, {"doubleValue": 0.25}),
                            record(9, {"boolValue": True}),
                        ]
                    }
                ]
            }
        ]
    }
    url = f"{shared_collector.url}/v1/logs"
    headers = shared_collector.headers(shared_collector.ingest_key)

    first = httpx.post(url, json=body, headers=headers)
    retry = httpx.post(url, json=body, headers=headers)

    assert first.status_code == retry.status_code == 200, first.text
    partial = first.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1"
    assert partial["errorMessage"].startswith(
        'resourceLogs[0].scopeLogs[0].logRecords[2].attributes["mlpulse.score"]: '
    )
    rows = _summary(shared_collector, "otlp-json-logs")
    assert (rows["m-2026"]["count"], rows["m-2026"]["errors"]) == (2, 1)
