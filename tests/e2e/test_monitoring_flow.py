"""Windows, references, monitors as code and the evaluator, through a real collector."""

from __future__ import annotations

import io
import math
import time
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from prometheus_client.parser import text_string_to_metric_families

from mlpulse import Client
from tests.conftest import RunningCollector


def _query(c: RunningCollector, name: str, **params: Any) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{c.url}/v1/metrics/query",
        params={"name": name, **params},
        headers=c.headers(c.read_key),
    )
    assert response.status_code == 200, response.text
    series: list[dict[str, Any]] = response.json()["series"]
    return series


def test_error_rate_shift_becomes_a_metric_point_within_one_second(
    collector: RunningCollector,
) -> None:
    rng = np.random.default_rng(3)
    shifted_at = math.inf
    with Client(collector.url, collector.ingest_key, flush_interval=0.02) as client:
        start = time.perf_counter()
        for i in range(5_000):  # 1,000 events per second: 3 s at 5% errors, then 30%
            if i == 3_000:
                shifted_at = time.time()
            rate = 0.05 if i < 3_000 else 0.30
            client.log_prediction(
                "stream", "v1", {"x": 1.0}, 1, latency_ms=5.0,
                error="boom" if rng.uniform() < rate else None,
            )  # fmt: skip
            pause = start + (i + 1) / 1000 - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        assert client.flush(timeout=10)
    series = _query(
        collector, "mlpulse_stream_change", match=["model=stream", "stream=error_rate"],
        start=shifted_at - 10, end=time.time() + 5,
    )  # fmt: skip
    times = [ts for s in series for ts, _, _ in s["points"]]
    assert times, "no detection"
    assert all(ts >= shifted_at for ts in times), "an alarm before the shift"
    assert min(times) - shifted_at <= 1.0, f"detected after {min(times) - shifted_at:.2f} s"


def _parquet(columns: dict[str, Any]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


def test_reference_config_and_evaluator_produce_drift_and_traffic_series(
    collector: RunningCollector,
) -> None:
    rng = np.random.default_rng(5)
    admin = collector.headers(collector.admin_key)
    n = 3_000
    reference = {
        "amount": rng.lognormal(3, 1, 20_000),
        "age": rng.normal(40, 10, 20_000),
        "plan": rng.choice(["free", "pro", "team"], 20_000, p=[0.6, 0.3, 0.1]),
    }
    upload = httpx.post(
        f"{collector.url}/v1/models/shop/reference",
        params={"name": "train.parquet"},
        content=_parquet(reference),
        headers={**admin, "Content-Type": "application/vnd.apache.parquet"},
    )
    assert upload.status_code == 201, upload.text
    assert upload.json()["rows"] == 20_000
    assert upload.json()["columns"] == {
        "amount": "numeric",
        "age": "numeric",
        "plan": "categorical",
    }

    config = {
        "version": 1,
        "models": {"shop": {"task": "regression"}},
        "monitors": {
            "shop-drift": {"model": "shop", "check": "drift", "window": "1h", "every": "1m"},
            "shop-p95": {"model": "shop", "check": "latency", "metric": "p95", "window": "1h",
                         "warning": 50.0, "critical": 100.0},
        },
    }  # fmt: skip
    applied = httpx.put(f"{collector.url}/v1/config", json=config, headers=admin)
    assert applied.status_code == 200, applied.text
    assert "+ monitor shop-drift" in applied.json()["plan"]
    bad = httpx.put(
        f"{collector.url}/v1/config",
        json={"version": 1, "monitors": {"m": {"model": "shop", "check": "drift", "windw": "1h"}}},
        headers=admin,
    )
    assert bad.status_code == 422 and "monitors.m.windw" in bad.json()["error"]["message"]

    now = time.time()
    with Client(collector.url, collector.ingest_key, batch_size=1000) as client:
        for i in range(n):  # 40 to 10 minutes ago, so every minute is closed and flushed
            client.log_prediction(
                "shop", "v1",
                {"amount": float(rng.lognormal(3, 1)), "age": float(rng.normal(48, 10)),
                 "plan": str(rng.choice(["free", "pro", "team"], p=[0.6, 0.3, 0.1]))},
                float(rng.normal()), latency_ms=float(rng.gamma(2, 10)),
                timestamp=now - 2400 + i * (1800 / n),
            )  # fmt: skip
        assert client.flush(timeout=30)
    # Minute profiles are written within a second or two of their arrival, oldest first: on
    # a busy machine a first tick may see the older minutes (drift) before the newest
    # (the default throughput monitor's 15 minutes), which it then runs again a minute
    # later (its `every`).
    deadline = time.time() + 90
    while True:
        tick = httpx.post(f"{collector.url}/v1/evaluator/tick", headers=admin)
        assert tick.status_code == 200, tick.text
        assert tick.json()["failures"] == []
        drift = _query(collector, "mlpulse_drift_score", match=["monitor=shop-drift"])
        throughput = _query(collector, "mlpulse_throughput_per_second", match=["model=shop"])
        if (drift and throughput) or time.time() > deadline:
            break
        time.sleep(0.5)
    by_column = {s["labels"]["column"]: s["points"][-1] for s in drift}
    assert set(by_column) == {"amount", "age", "plan"}
    assert by_column["age"][2] in ("warning", "critical")  # shifted by 0.8 sd
    assert by_column["amount"][2] == "ok" and by_column["plan"][2] == "ok"
    latency = _query(collector, "mlpulse_latency_seconds", match=["monitor=shop-p95"])
    assert latency[0]["labels"]["percentile"] == "p95"
    assert 0.030 < latency[0]["points"][-1][1] < 0.060  # gamma(2, 10) ms: p95 ≈ 0.047 s
    assert throughput, "default throughput monitor ran"

    text = httpx.get(f"{collector.url}/metrics", headers=collector.headers(collector.read_key)).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert "mlpulse_drift_score" in families and "mlpulse_check_status" in families
    statuses = {
        (s.labels["check"], s.labels.get("column")): s.value
        for s in families["mlpulse_check_status"].samples
        if s.labels.get("monitor") == "shop-drift"
    }
    assert statuses[("mlpulse_drift_score", "age")] >= 1.0
    assert statuses[("mlpulse_drift_score", "amount")] == 0.0

    plan = httpx.get(f"{collector.url}/v1/config", headers=collector.headers(collector.read_key))
    assert set(plan.json()["config"]["monitors"]) == {"shop-drift", "shop-p95"}
