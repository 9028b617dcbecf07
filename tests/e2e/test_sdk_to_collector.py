"""The SDK sends to a real collector on loopback; the collector reports exactly that."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlpulse import Client
from tests.conftest import RunningCollector


def _metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_sdk_sends_10000_predictions_and_labels_and_summary_and_metrics_match(
    collector: RunningCollector,
) -> None:
    rng = np.random.default_rng(11)
    n = 10_000
    versions = np.where(rng.random(n) < 0.7, "v1", "v2")
    latencies = np.round(rng.lognormal(2.0, 0.6, n), 3)
    failed = rng.random(n) < 0.02
    now = time.time()
    # The whole burst fits the buffer: this test is about delivery, not back-pressure.
    with Client(collector.url, collector.ingest_key, batch_size=2000, max_buffer=50_000) as client:
        request_ids = [
            client.log_prediction(
                "e2e",
                str(versions[i]),
                {f"x{j}": float(rng.normal()) for j in range(5)} | {"country": "DE"},
                None if failed[i] else 1,
                score=0.7,
                latency_ms=float(latencies[i]),
                error="ValueError: bad input" if failed[i] else None,
                timestamp=now - 60 + i * 0.005,
            )
            for i in range(n)
        ]
        for rid, version in zip(request_ids, versions, strict=True):
            client.log_label("e2e", rid, 1, version=str(version))
        assert client.flush(timeout=60)
        stats = client.stats()
    assert (stats.sent, stats.rejected, stats.dropped) == (2 * n, 0, 0)
    assert len(set(request_ids)) == n

    headers = collector.headers(collector.read_key)
    summary = httpx.get(
        f"{collector.url}/v1/models/e2e/summary", params={"window": "1h"}, headers=headers
    ).json()
    by_version = {row["version"]: row for row in summary["versions"]}
    assert set(by_version) == {"v1", "v2"}
    for version, row in by_version.items():
        mask = versions == version
        assert row["count"] == mask.sum()
        assert row["errors"] == (failed & mask).sum()
        assert row["error_rate"] == pytest.approx((failed & mask).sum() / mask.sum())
        assert row["throughput_per_s"] == pytest.approx(mask.sum() / 3600)
        expected = np.percentile(latencies[mask], [50, 95, 99])
        got = [row["latency_ms"][p] for p in ("p50", "p95", "p99")]
        assert got == pytest.approx(expected)

    samples = _metric_samples(httpx.get(f"{collector.url}/metrics", headers=headers).text)
    for version in ("v1", "v2"):
        mask = versions == version
        labels = (("model", "e2e"), ("version", version))
        assert samples[("mlpulse_predictions_total", labels)] == mask.sum()
        assert samples[("mlpulse_prediction_errors_total", labels)] == (failed & mask).sum()
        assert samples[("mlpulse_prediction_latency_seconds_count", labels)] == mask.sum()
        assert samples[("mlpulse_prediction_latency_seconds_sum", labels)] == pytest.approx(
            latencies[mask].sum() / 1000
        )
        le_10ms = (("le", "0.01"), *labels)
        assert samples[("mlpulse_prediction_latency_seconds_bucket", le_10ms)] == (
            (latencies[mask] <= 10.0).sum()
        )
    assert samples[("mlpulse_ingest_events_total", (("kind", "prediction"),))] == n
    assert samples[("mlpulse_ingest_events_total", (("kind", "label"),))] == n
    assert samples[("mlpulse_ingest_rejected_events_total", ())] == 0

    models = httpx.get(f"{collector.url}/v1/models", headers=headers).json()["models"]
    (model,) = [m for m in models if m["model"] == "e2e"]
    assert [v["version"] for v in model["versions"]] == ["v1", "v2"]
    assert model["schema"] == {**{f"x{j}": "numeric" for j in range(5)}, "country": "categorical"}
