"""What keeping store.json costs the collector: one refresh (a tick) over a large store.

Fills the ``batches`` table of a real DuckDBEventStore with ``--batches`` rows, then
appends 12 batches (about a second of ingest at 60k events/s in 5,000-event batches)
before each of ``--ticks`` refreshes, and reports the time and CPU of a refresh.

    .venv/bin/python bench/store_record.py [--batches 1000000] [--ticks 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.durability import tally
from mlpulse.domain.blocks import blocks_from_rows
from mlpulse.domain.events import Prediction
from mlpulse.domain.storage import AcceptedBatch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=1_000_000)
    parser.add_argument("--ticks", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBEventStore(Path(tmp) / "events.duckdb")
        con = store.connection()
        con.execute(
            "INSERT INTO batches (batch_id, received_at, accepted, rejected) "
            "SELECT md5(i::VARCHAR), now(), 5000, '[]' FROM range(?) r(i)",
            [args.batches],
        )
        started = time.process_time()
        counted = tally(con)
        print(f"whole count of {counted.batches:,} batches: "
              f"{(time.process_time() - started) * 1000:.1f} ms CPU")  # fmt: skip
        rows = [
            Prediction(model="m", version="v1", request_id=f"r{i}", features={"x": 1.0},
                       prediction=1, timestamp=time.time())
            for i in range(100)
        ]  # fmt: skip
        store.durability.refresh()
        wall = cpu = 0.0
        for i in range(args.ticks):
            for j in range(12):
                batch = AcceptedBatch(f"n{i}-{j}", time.time(), predictions=blocks_from_rows(rows))
                store.append(batch).result(10)
            t, c = time.perf_counter(), time.process_time()
            store.durability.refresh()
            wall += time.perf_counter() - t
            cpu += time.process_time() - c
        print(f"refresh with 12 new batches: {wall / args.ticks * 1000:.2f} ms, "
              f"{cpu / args.ticks * 1000:.2f} ms CPU (once a second)")  # fmt: skip
        con.close()
        store.close()


if __name__ == "__main__":
    main()
