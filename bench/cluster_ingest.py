"""Ingest with 1, 2 and 3 replicas on PostgreSQL, beside the embedded store, in one run.

The same SDK client processes as ``bench/ingest.py`` (20 numeric and 5 categorical
features, back-pressure, nothing dropped) send to the collectors; with replicas, each
client knows every replica and starts with a different one (as clients behind a load
balancer spread), failing over to the next. Everything shares this machine's cores:
clients, replicas and PostgreSQL, so the figures say what one machine does, and the
CPU seconds per event (summed over the replicas, and PostgreSQL's own) say what each
part costs, which is what sizing needs.

    .venv/bin/python bench/cluster_ingest.py [--clients 2] [--seconds 15] [--batch-size 5000]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from ingest import _client_process, _cpu_seconds  # type: ignore[import-not-found]
from mlpulse.adapters.store.factory import open_metadata
from mlpulse.domain.auth import Scope
from mlpulse.server.settings import Settings
from mlpulse.testing.process import CollectorProcess


def _postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process so far (the server runs on this machine)."""
    total = 0.0
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            comm = (pid_dir / "comm").read_text().strip()
            if comm.startswith("postgres"):
                total += _cpu_seconds(int(pid_dir.name))
        except OSError:
            continue
    return total


def _run(store: str, replicas: int, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    data_dir = tmp / f"{replicas}-{uuid.uuid4().hex[:6]}"
    data_dir.mkdir()
    with open_metadata(Settings(data_dir=data_dir, store=store)) as metadata:
        key = metadata.create_key([Scope.INGEST], name="bench", now=time.time())[1]
    env = {"MLPULSE_STORE": store} if store else {}
    with ExitStack() as stack:
        collectors = [
            stack.enter_context(
                CollectorProcess(data_dir / f"r{i}", env={**env, "MLPULSE_WRITER_ID": f"r{i}"})
            )
            if store
            else stack.enter_context(CollectorProcess(data_dir))
            for i in range(replicas)
        ]
        cpu_before = [_cpu_seconds(c.pid) for c in collectors]
        pg_before = _postgres_cpu() if store else 0.0
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        urls = [c.url for c in collectors]
        procs = [
            ctx.Process(
                target=_client_process,
                args=(
                    ",".join(urls[i % replicas :] + urls[: i % replicas]),
                    key,
                    args.seconds,
                    args.batch_size,
                    i,
                    out,
                ),
            )
            for i in range(args.clients)
        ]
        for p in procs:
            p.start()
        results: list[dict[str, Any]] = [out.get() for _ in procs]
        for p in procs:
            p.join()
        collector_cpu = sum(
            _cpu_seconds(c.pid) - b for c, b in zip(collectors, cpu_before, strict=True)
        )
        pg_cpu = (_postgres_cpu() - pg_before) if store else 0.0
    sent = sum(r["sent"] for r in results)
    wall = max(r["finished"] for r in results) - min(r["started"] for r in results)
    request_ms = np.asarray([t for r in results for t in r["request_times"]]) * 1000
    return {
        "rate": sent / wall,
        "p50": float(np.percentile(request_ms, 50)),
        "p99": float(np.percentile(request_ms, 99)),
        "collector_us": collector_cpu / sent * 1e6,
        "postgres_us": pg_cpu / sent * 1e6,
        "client_us": sum(r["cpu"] for r in results) / sent * 1e6,
        "dropped": float(sum(r["dropped"] for r in results)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    name = f"mlpulse_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(args.postgres, autocommit=True)
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="mlpulse-bench-") as tmp:
            rows.append(("embedded (DuckDB)", _run("", 1, args, Path(tmp))))
            for replicas in (1, 2, 3):
                admin.execute(f"CREATE DATABASE {name}_{replicas}")
                url = args.postgres.rsplit("/", 1)[0] + f"/{name}_{replicas}"
                rows.append(
                    (f"PostgreSQL, {replicas} replica(s)", _run(url, replicas, args, Path(tmp)))
                )
    finally:
        for replicas in (1, 2, 3):
            admin.execute(f"DROP DATABASE IF EXISTS {name}_{replicas} WITH (FORCE)")
        admin.close()
    print(
        f"{args.clients} client processes, batches of {args.batch_size}, {args.seconds:.0f} s each"
    )
    print(
        "| store | events/s | ack p50 | ack p99 | collector µs/event | PostgreSQL µs/event "
        "| client µs/event |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, r in rows:
        print(
            f"| {label} | {r['rate']:,.0f} | {r['p50']:.0f} ms | {r['p99']:.0f} ms | "
            f"{r['collector_us']:.1f} | {r['postgres_us']:.1f} | {r['client_us']:.1f} |"
        )


if __name__ == "__main__":
    main()
