"""The SDK while the collector is down: fast, bounded, counted, and it catches up."""

from __future__ import annotations

import statistics
import time
import tracemalloc
from pathlib import Path

import httpx

from mlpulse import Client
from mlpulse.domain.auth import Scope
from mlpulse.testing.process import CollectorProcess, create_key, free_port

FEATURES = {f"n{i}": float(i) for i in range(20)} | {f"c{i}": "abc" for i in range(5)}


def test_sdk_buffers_while_collector_is_down_and_delivers_when_it_returns(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet
    url = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "data"
    key = create_key(data_dir, [Scope.ADMIN])
    client = Client(
        url, key, batch_size=500, max_buffer=5_000, flush_interval=0.05, backoff_cap=0.2
    )
    try:
        tracemalloc.start()
        timings = []
        for i in range(20_000):
            started = time.perf_counter_ns()
            client.log_prediction("down", "v1", FEATURES, 1, latency_ms=1.0, request_id=f"r{i}")
            timings.append(time.perf_counter_ns() - started)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        stats = client.stats()
        # Fast: the serving thread only appends to a buffer (generous bound: this is a
        # shared machine under tracemalloc; bench/sdk_overhead.py measures it properly).
        assert statistics.median(timings) < 50_000
        # Bounded: at most max_buffer events plus one batch in flight are held ...
        assert stats.buffered + stats.in_flight <= 5_000 + 500
        assert peak < 60 * 1024 * 1024
        # ... and the rest are counted, not silently lost.
        assert stats.dropped >= 20_000 - 5_500
        assert stats.logged == 20_000
        assert stats.sent == 0
        assert stats.retries > 0

        with CollectorProcess(data_dir, port=port) as collector:
            assert client.flush(timeout=60)
            after = client.stats()
            assert after.sent == 20_000 - after.dropped
            assert after.buffered == after.in_flight == 0
            summary = httpx.get(
                f"{collector.url}/v1/models/down/summary",
                params={"window": "1d"},
                headers={"Authorization": f"Bearer {key}"},
            ).json()
            assert summary["versions"][0]["count"] == after.sent
    finally:
        client.close(timeout=5)
