from __future__ import annotations

import numpy as np
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mlpulse.domain.blocks import blocks_from_rows
from mlpulse.domain.events import Prediction
from mlpulse.domain.ingest import IngestResult
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.server.metrics import LATENCY_BUCKETS_S, CollectorMetrics


def test_latency_histogram_counts_equal_numpy_counts_per_bucket() -> None:
    rng = np.random.default_rng(3)
    latencies_ms = np.concatenate([rng.exponential(20.0, 5000), [1.0, 5.0, 10.0, 25_000.0]])
    batch = AcceptedBatch(
        batch_id="b",
        received_at=0.0,
        predictions=blocks_from_rows([
            Prediction(model="m", version="v1", request_id=str(i), latency_ms=float(x),
                       error="e" if i % 7 == 0 else None)
            for i, x in enumerate(latencies_ms)
        ]),
    )  # fmt: skip
    metrics = CollectorMetrics()
    metrics.observe(batch, IngestResult(batch_id="b", accepted=batch.accepted), 0.01)
    families = {
        f.name: f
        for f in text_string_to_metric_families(generate_latest(metrics.registry).decode())
    }
    buckets = {
        s.labels["le"]: s.value
        for s in families["mlpulse_prediction_latency_seconds"].samples
        if s.name.endswith("_bucket")
    }
    seconds = latencies_ms / 1000
    for bound in LATENCY_BUCKETS_S:
        assert buckets[repr(bound)] == np.count_nonzero(seconds <= bound)
    assert buckets["+Inf"] == len(latencies_ms)
    (total,) = [
        s.value
        for s in families["mlpulse_prediction_latency_seconds"].samples
        if s.name.endswith("_sum")
    ]
    assert total == np.float64(seconds.sum())
    (count,) = [s.value for s in families["mlpulse_predictions"].samples]
    (errors,) = [s.value for s in families["mlpulse_prediction_errors"].samples]
    assert count == len(latencies_ms)
    assert errors == len(range(0, len(latencies_ms), 7))
