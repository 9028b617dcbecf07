"""Sustained ingest: SDK client processes → HTTP → collector → durable DuckDB store.

Each client process logs predictions with 20 numeric and 5 categorical features as
fast as the pipeline takes them (it pauses when its buffer is nearly full, so nothing
is dropped and the figure is the pipeline's capacity, not the producers'). The rate is
acknowledged events over wall time; request→acknowledgement time is measured around
each HTTP request in the clients. Everything runs on this machine: clients, collector
and DuckDB share its cores, and the CPU seconds each side used are reported.

    .venv/bin/python bench/ingest.py [--clients 2] [--seconds 15] [--batch-size 5000]
        [--store postgresql://postgres@127.0.0.1:5432/mlpulse_bench]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

N_NUMERIC, N_CATEGORICAL = 20, 5


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _feature_pool(seed: int, size: int = 2000) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(size, N_NUMERIC))
    cats = rng.choice(["alpha", "beta", "gamma", "delta"], size=(size, N_CATEGORICAL))
    return [
        {f"n{j}": float(numeric[i, j]) for j in range(N_NUMERIC)}
        | {f"c{j}": str(cats[i, j]) for j in range(N_CATEGORICAL)}
        for i in range(size)
    ]


def _client_process(
    url: str, key: str, seconds: float, batch_size: int, index: int, out: Any
) -> None:
    from mlpulse import Client
    from mlpulse.sdk import transport

    request_times: list[float] = []
    send = transport.HttpTransport.send

    def timed_send(self: transport.HttpTransport, payload: Any, **options: Any) -> Any:
        started = time.perf_counter()
        reply = send(self, payload, **options)
        request_times.append(time.perf_counter() - started)
        return reply

    transport.HttpTransport.send = timed_send  # type: ignore[method-assign]  # bench probe
    pool = _feature_pool(index)
    max_buffer = batch_size * 8
    client = Client(url, key, batch_size=batch_size, max_buffer=max_buffer, flush_interval=0.05)
    started = time.perf_counter()
    deadline = started + seconds
    logged = 0
    while time.perf_counter() < deadline:
        for i in range(1000):
            client.log_prediction(
                "bench", f"v{index % 2}", pool[i % len(pool)], 1, score=0.5, latency_ms=3.0
            )
        logged += 1000
        while client.stats().buffered > max_buffer - 2 * batch_size:
            time.sleep(0.002)  # back-pressure: let the shipper catch up
    client.flush(timeout=120)
    finished = time.perf_counter()
    stats = client.stats()
    client.close()
    out.put(
        {
            "logged": logged,
            "sent": stats.sent,
            "dropped": stats.dropped,
            "rejected": stats.rejected,
            "started": started,
            "finished": finished,
            "request_times": request_times,
            "cpu": time.process_time(),
        }
    )


def _decode_costs() -> dict[str, tuple[float, float]]:
    """Collector decode cost (µs/event) and size (bytes/event): rows or blocks, each format."""
    from mlpulse.domain.blocks import blocks_from_rows
    from mlpulse.domain.events import Batch, Prediction

    rows = [
        Prediction("bench", "v1", f"r{i}", f, 1.0, 1.8e9, 0.5, None, 3.0)
        for i, f in enumerate(_feature_pool(99, 5000))
    ]
    batches = {
        "rows": Batch(events=list(rows), batch_id="b"),
        "blocks": Batch(predictions=blocks_from_rows(rows), batch_id="b"),
    }
    costs = {}
    for codec in (msgspec.msgpack, msgspec.json):
        decoder = codec.Decoder(Batch)
        for form, batch in batches.items():
            body = codec.encode(batch)
            times = []
            for _ in range(15):
                started = time.perf_counter()
                decoder.decode(body)
                times.append(time.perf_counter() - started)
            name = f"{form}, {codec.__name__.split('.')[-1]}"
            costs[name] = (statistics.median(times) / len(rows) * 1e6, len(body) / len(rows))
    return costs


def main() -> None:
    from mlpulse.domain.auth import Scope
    from mlpulse.testing.process import CollectorProcess, create_key

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument(
        "--store", default="", help="a postgresql:// URL (an empty database) instead of a directory"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlpulse-bench-") as tmp:
        data_dir = Path(tmp)
        if args.store:
            from mlpulse.adapters.store.factory import open_metadata
            from mlpulse.server.settings import Settings

            with open_metadata(Settings(data_dir=data_dir, store=args.store)) as metadata:
                key = metadata.create_key([Scope.INGEST], name="bench", now=time.time())[1]
        else:
            key = create_key(data_dir, [Scope.INGEST])
        env = {"MLPULSE_STORE": args.store} if args.store else {}
        with CollectorProcess(data_dir, env=env) as collector:
            cpu_before = _cpu_seconds(collector.pid)
            ctx = mp.get_context("spawn")
            out = ctx.Queue()
            procs = [
                ctx.Process(
                    target=_client_process,
                    args=(collector.url, key, args.seconds, args.batch_size, i, out),
                )
                for i in range(args.clients)
            ]
            for p in procs:
                p.start()
            results = [out.get() for _ in procs]
            for p in procs:
                p.join()
            collector_cpu = _cpu_seconds(collector.pid) - cpu_before

    sent = sum(r["sent"] for r in results)
    wall = max(r["finished"] for r in results) - min(r["started"] for r in results)
    request_ms = np.asarray([t for r in results for t in r["request_times"]]) * 1000
    print(f"clients: {args.clients} processes, batch size {args.batch_size}, {wall:.1f} s")
    print(f"events acknowledged: {sent:,} (dropped {sum(r['dropped'] for r in results)}, "
          f"rejected {sum(r['rejected'] for r in results)})")  # fmt: skip
    print(f"sustained rate: {sent / wall:,.0f} events/s")
    print(f"request → ack: p50 {np.percentile(request_ms, 50):.1f} ms, "
          f"p99 {np.percentile(request_ms, 99):.1f} ms, {len(request_ms)} requests")  # fmt: skip
    client_cpu = sum(r["cpu"] for r in results)
    print(f"CPU seconds: collector {collector_cpu:.1f}, clients {client_cpu:.1f} "
          f"(of {2 * wall:.1f} available on 2 cores)")  # fmt: skip
    print(f"collector CPU per event: {collector_cpu / sent * 1e6:.1f} µs; "
          f"client CPU per event: {client_cpu / sent * 1e6:.1f} µs")  # fmt: skip
    print("collector decode of one 5,000-prediction batch:")
    for name, (us, size) in _decode_costs().items():
        print(f"  {name:16} {us:5.2f} µs/event, {size:4.0f} bytes/event")


if __name__ == "__main__":
    main()
