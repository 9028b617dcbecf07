"""Backup through a running collector while it takes ingest, then restore.

Fills a collector with ``--events`` predictions (25 features each, 5,000 a batch), then
runs one sender posting 1,000-event batches and measures its request→acknowledgement
time for a few seconds alone and then while ``POST /v1/admin/backup`` runs. Reports the
backup's time and size, the acknowledgement times side by side, and the restore's time.
Everything runs on this machine (collector, sender, archive writer share its cores).

    .venv/bin/python bench/backup.py [--events 1000000] [--compression gzip|none]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec
import numpy as np

from mlpulse.adapters.store.backup_archive import restore
from mlpulse.domain.auth import Scope
from mlpulse.testing.process import CollectorProcess, create_key


def _events(rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    values = rng.normal(size=(n, 20))
    now = time.time()
    events = [
        {"kind": "prediction", "model": "bench", "version": "v1",
         "request_id": uuid.uuid4().hex, "timestamp": now - 120, "latency_ms": 3.0,
         "prediction": float(values[i, 0]),
         "features": {f"n{j}": float(values[i, j]) for j in range(20)}
         | {f"c{j}": "abcd"[(i + j) % 4] for j in range(5)}}
        for i in range(n)
    ]  # fmt: skip
    return events


def _body(events: list[dict[str, Any]]) -> bytes:
    # A fresh batch id each time: the same id twice would be a deduplicated retry.
    return msgspec.msgpack.encode({"batch_id": uuid.uuid4().hex, "events": events})


def _sender(url: str, key: str, stop: threading.Event, out: list[tuple[float, float]]) -> None:
    """Post 1,000-event batches until stopped; (start, seconds to the ack) of each."""
    rng = np.random.default_rng(1)
    batches = [_events(rng, 1000) for _ in range(8)]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/msgpack"}
    with httpx.Client(timeout=60.0) as http:
        i = 0
        while not stop.is_set():
            body = _body(batches[i % len(batches)])
            started = time.perf_counter()
            response = http.post(f"{url}/v1/ingest", content=body, headers=headers)
            assert response.status_code == 200, response.text
            out.append((started, time.perf_counter() - started))
            i += 1


def _percentiles(times: list[float]) -> str:
    if len(times) < 2:
        return "n/a"
    q = statistics.quantiles(times, n=100)
    return f"p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms, {len(times)} batches"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--alone-seconds", type=float, default=5.0)
    parser.add_argument("--compression", choices=["gzip", "none"], default="gzip")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        key = create_key(data_dir, [Scope.ADMIN])
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/msgpack"}
        with CollectorProcess(data_dir) as collector:
            rng = np.random.default_rng(0)
            events = _events(rng, 5000)
            started = time.perf_counter()
            with httpx.Client(timeout=120.0) as http:
                for _ in range(args.events // 5000):
                    assert http.post(f"{collector.url}/v1/ingest", content=_body(events),
                                     headers=headers).status_code == 200  # fmt: skip
            print(f"filled: {args.events:,} events in {time.perf_counter() - started:.1f} s")
            acks: list[tuple[float, float]] = []
            stop = threading.Event()
            sender = threading.Thread(target=_sender, args=(collector.url, key, stop, acks))
            sender.start()
            time.sleep(args.alone_seconds)
            archive = Path(tmp) / "backup.tar"
            began = time.perf_counter()
            with httpx.stream("POST", f"{collector.url}/v1/admin/backup", headers=headers,
                              params={"compression": args.compression},
                              timeout=None) as response, archive.open("wb") as out:  # fmt: skip
                assert response.status_code == 200, response.read()
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
            ended = time.perf_counter()
            stop.set()
            sender.join()
            size = (data_dir / "events.duckdb").stat().st_size
        alone = [t for s, t in acks if s < began]
        during = [t for s, t in acks if began <= s <= ended]
        print(f"store: events.duckdb {size / 1e6:.1f} MB")
        print(f"backup: {ended - began:.1f} s, archive {archive.stat().st_size / 1e6:.1f} MB")
        print(f"acks alone:  {_percentiles(alone)}")
        print(f"acks during: {_percentiles(during)}")
        began = time.perf_counter()
        manifest = restore(archive, Path(tmp) / "restored")
        rows = sum(sum(f.tables.values()) for f in manifest.files)
        print(f"restore: {time.perf_counter() - began:.1f} s ({rows:,} rows checked)")


if __name__ == "__main__":
    main()
