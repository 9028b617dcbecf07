"""The SDK's resource sampler, end to end: this process's CPU and memory reach a real
collector, which stores every sample and shows the latest one on ``/metrics``."""

from __future__ import annotations

import os
import socket
import time

import duckdb
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlpulse import Client
from tests.conftest import RunningCollector

pytest.importorskip("psutil")


def test_resource_sampler_reaches_metrics_and_the_store(collector: RunningCollector) -> None:
    client = Client(collector.url, collector.ingest_key, flush_interval=0.05)
    sampler = client.start_resource_sampler(interval=0.1, model="e2e-resources", version="v1")
    deadline = time.monotonic() + 10
    while client.stats().sent < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.close(timeout=10)
    assert not sampler.running
    stats = client.stats()
    assert stats.sent >= 3
    assert (stats.rejected, stats.dropped) == (0, 0)

    response = httpx.get(f"{collector.url}/metrics", headers=collector.headers(collector.read_key))
    assert response.status_code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    this_process = (
        ("host", socket.gethostname()),
        ("model", "e2e-resources"),
        ("pid", str(os.getpid())),
        ("version", "v1"),
    )
    assert samples[("mlpulse_resource_cpu_percent", this_process)] >= 0.0
    rss = samples[("mlpulse_resource_memory_rss_bytes", this_process)]
    assert 1 * 2**20 < rss < 64 * 2**30  # this pytest process: some MB, far below 64 GB
    assert 0.0 < samples[("mlpulse_resource_memory_percent", this_process)] <= 100.0
    assert not any(name.startswith("mlpulse_resource_gpu") for name, _ in samples)  # no GPU
    assert samples[("mlpulse_ingest_events_total", (("kind", "resource"),))] == stats.sent

    collector.process.stop()  # DuckDB allows one process per file: read it once it is closed
    with duckdb.connect(str(collector.process.data_dir / "events.duckdb"), read_only=True) as con:
        (count, pids, cpu, rss_mb, gpus) = con.execute(
            "SELECT count(*), list(DISTINCT pid), min(cpu_percent), min(memory_rss_mb), "
            "count(gpu_utilization) FROM resources "
            "WHERE model = 'e2e-resources' AND version = 'v1'"
        ).fetchall()[0]
    assert (count, pids, gpus) == (stats.sent, [os.getpid()], 0)
    assert cpu >= 0.0 and rss_mb > 1.0
