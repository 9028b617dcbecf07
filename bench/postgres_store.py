"""Events per second through the event store's writer: PostgreSQL beside DuckDB.

In one process, ``--threads`` submitters append ready-made batches (predictions with 20
numeric and 5 categorical features, as bench/ingest.py sends) and wait for each
acknowledgement (a commit) before the next, for ``--seconds`` per store (PostgreSQL with
1 and 2 writer threads). No HTTP and no
decoding: the figure is the store's own capacity, with the row building done in the
submitting threads, as the collector's request threads do. Also printed: the CPU this
process spent per event, the cost of building the rows alone, and what one feature
object per row costs PostgreSQL to ``COPY`` as ``json`` against ``jsonb``.

PostgreSQL runs on the same 2 cores (its own processes; their CPU is not counted in
this process's figure).

    .venv/bin/python bench/postgres_store.py [--seconds 8] [--batch-size 5000]
        [--writers 1 2] [--url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.postgres.database import Database
from mlpulse.adapters.store.postgres.event_rows import prediction_rows
from mlpulse.adapters.store.postgres.events import PostgresEventStore
from mlpulse.domain.events import PredictionBlock
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.ports import EventStore

N_NUMERIC, N_CATEGORICAL = 20, 5


def _blocks(batch_size: int, count: int, seed: int = 0) -> list[PredictionBlock]:
    rng = np.random.default_rng(seed)
    blocks = []
    for b in range(count):
        numeric = rng.normal(size=(N_NUMERIC, batch_size))
        cats = rng.choice(["alpha", "beta", "gamma", "delta"], size=(N_CATEGORICAL, batch_size))
        features = {f"n{j}": numeric[j].tolist() for j in range(N_NUMERIC)}
        features |= {f"c{j}": cats[j].tolist() for j in range(N_CATEGORICAL)}
        blocks.append(
            PredictionBlock(
                model="fraud", version="v1",
                request_id=[f"{b}-{i}" for i in range(batch_size)], features=features,
                prediction=rng.integers(0, 2, batch_size).tolist(),
                score=rng.random(batch_size).tolist(),
                latency_ms=rng.lognormal(2, 0.5, batch_size).tolist(),
            )
        )  # fmt: skip
    return blocks


def _run(
    store: EventStore, blocks: list[PredictionBlock], seconds: float, threads: int
) -> tuple[float, list[float], float]:
    """(events/s, ack latencies in s, CPU µs per event) of ``threads`` closed-loop submitters."""
    latencies: list[float] = []
    events = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def submit(index: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            block = blocks[(index + n * threads) % len(blocks)]
            batch = AcceptedBatch(secrets.token_hex(8), time.time(), predictions=[block])
            started = time.perf_counter()
            result = store.append(batch).result(60)
            with lock:
                latencies.append(time.perf_counter() - started)
                events[0] += result.accepted
            n += 1

    cpu, wall = time.process_time(), time.perf_counter()
    workers = [threading.Thread(target=submit, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return events[0] / wall, latencies, cpu / events[0] * 1e6


@contextmanager
def _database(url: str) -> Iterator[str]:
    name = f"mlpulse_bench_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield make_conninfo(url, dbname=name)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _row_cost(blocks: list[PredictionBlock]) -> float:
    """µs per event to build the COPY rows of a block (what append does per request)."""
    started = time.process_time()
    for block in blocks:
        prediction_rows(block, batch_id="b", received_at=time.time())
    return (time.process_time() - started) / sum(map(len, blocks)) * 1e6


def _json_against_jsonb(url: str, block: PredictionBlock) -> dict[str, float]:
    """µs per row to COPY the same feature objects into a ``json`` and a ``jsonb`` column
    (text COPY for both, as jsonb's binary form needs a version byte: the client's share
    is the same, the difference is the server's)."""
    rows = [(row[-1],) for row in prediction_rows(block, batch_id="b", received_at=0.0)]
    costs = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for kind in ("json", "jsonb"):
            conn.execute(f"CREATE TEMP TABLE f_{kind} (features {kind})")
            runs = []
            for _ in range(5):
                conn.execute(f"TRUNCATE f_{kind}")
                started = time.perf_counter()
                with (
                    conn.transaction(),
                    conn.cursor().copy(f"COPY f_{kind} FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
                runs.append(time.perf_counter() - started)
            costs[kind] = statistics.median(runs) / len(rows) * 1e6
    return costs


def _report(name: str, rate: float, latencies: list[float], cpu_us: float) -> None:
    p50, p99 = np.percentile(latencies, [50, 99]) * 1e3
    print(f"{name:>12}: {rate:>9,.0f} events/s  ack p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
          f"this process {cpu_us:5.1f} µs CPU/event")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    blocks = _blocks(args.batch_size, 8)
    print(f"batches of {args.batch_size} predictions, {args.threads} submitting threads, "
          f"{args.seconds:g} s per store")  # fmt: skip
    print(f"building the COPY rows alone: {_row_cost(blocks):.2f} µs/event")

    stores: dict[str, Callable[[], tuple[EventStore, Callable[[], None]]]] = {}
    with tempfile.TemporaryDirectory() as tmp, _database(args.url) as url:

        def duckdb() -> tuple[EventStore, Callable[[], None]]:
            store = DuckDBEventStore(Path(tmp) / "events.duckdb")
            return store, store.close

        def postgres(writers: int) -> Callable[[], tuple[EventStore, Callable[[], None]]]:
            def make() -> tuple[EventStore, Callable[[], None]]:
                database = Database(url, schema=f"bench_{writers}")
                store = PostgresEventStore(database, writers=writers)

                def close() -> None:
                    store.close()
                    database.close()

                return store, close

            return make

        stores = {"duckdb": duckdb}
        stores |= {f"postgres/{n}w": postgres(n) for n in args.writers}
        for name, make in stores.items():
            store, close = make()
            try:
                _report(name, *_run(store, blocks, args.seconds, args.threads))
            finally:
                close()
        costs = _json_against_jsonb(url, blocks[0])
        print("features COPY on the server: " + ", ".join(
            f"{kind} {cost:.2f} µs/row" for kind, cost in costs.items()))  # fmt: skip


if __name__ == "__main__":
    main()
