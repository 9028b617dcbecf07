"""``POST /v1/traces`` on the PostgreSQL backend: the same intake, another store."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.conftest import start_collector


def test_otlp_spans_are_stored_on_the_postgres_backend(tmp_path: Path, postgres_store: str) -> None:
    process, keys = start_collector(tmp_path / "data", MLPULSE_STORE=postgres_store)
    try:
        end = time.time_ns()
        span = {
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "eee19b7ec3c1b174",
            "startTimeUnixNano": str(end - 7_000_000),
            "endTimeUnixNano": str(end),
            "status": {"code": 2, "message": "timeout"},
            "attributes": [
                {"key": "mlpulse.model", "value": {"stringValue": "otlp-pg"}},
                {"key": "mlpulse.version", "value": {"stringValue": "v1"}},
                {"key": "mlpulse.feature.amount", "value": {"doubleValue": 3.5}},
            ],
        }
        body = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
        headers = {"Authorization": f"Bearer {keys['ingest']}"}
        sent = httpx.post(f"{process.url}/v1/traces", json=body, headers=headers)
        assert (sent.status_code, sent.json()) == (200, {})

        summary = httpx.get(
            f"{process.url}/v1/models/otlp-pg/summary",
            params={"window": "1h"},
            headers={"Authorization": f"Bearer {keys['read']}"},
        ).json()
        (row,) = summary["versions"]
        assert (row["version"], row["count"], row["errors"]) == ("v1", 1, 1)
        assert row["latency_ms"]["p50"] == 7.0
    finally:
        process.stop()
