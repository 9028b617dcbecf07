"""The embedded store's write alone: DuckDBEventStore.append, no HTTP, no decode.

Three shapes, each appended and committed one batch at a time (as the group commit
does under load), timed per event in wall time and in this process's CPU time:

* ``steady``: batches of 5,000 predictions of one model, 20 numeric and 5 string
  features (bench/ingest.py's shape);
* ``new models``: one batch naming ``--models`` (1,000) models never seen, one
  prediction each;
* ``wide``: one batch of one model with ``--features`` (2,000) feature names, 10
  predictions.

Run it against two checkouts to compare layouts (same machine, back to back):

    PYTHONPATH=src .venv/bin/python bench/store_write.py --batches 40 --models 1000 --features 2000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.domain.events import PredictionBlock
from mlpulse.domain.storage import AcceptedBatch

NOW = 1_767_225_600.0


def _steady_block(rng: np.random.Generator, i: int, n: int) -> PredictionBlock:
    cats = np.array(["alpha", "beta", "gamma", "delta"])
    features: dict[str, list[float | str | bool | None]] = {
        f"n{j}": rng.normal(size=n).tolist() for j in range(20)
    }
    features |= {f"c{j}": cats[rng.integers(0, 4, n)].tolist() for j in range(5)}
    return PredictionBlock(
        model="fraud",
        version="v1",
        request_id=[f"{i}-{k}" for k in range(n)],
        features=features,
        score=rng.random(n).tolist(),
        latency_ms=rng.random(n).tolist(),
        timestamp=[NOW + k * 1e-3 for k in range(n)],
    )


def _timed(store: DuckDBEventStore, batches: list[AcceptedBatch]) -> tuple[float, float, int]:
    events = sum(b.accepted for b in batches)
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        store.append(batch).result(600)
    return time.perf_counter() - wall, time.process_time() - cpu, events


def _report(name: str, wall: float, cpu: float, events: int) -> None:
    print(
        f"{name:<12} {events:>7,} events  {wall * 1e3:8.1f} ms  "
        f"{wall / events * 1e6:7.2f} µs/event wall  {cpu / events * 1e6:7.2f} µs/event CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--features", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBEventStore(Path(tmp) / "events.duckdb")
        steady = [
            AcceptedBatch(f"s{i}", NOW, predictions=[_steady_block(rng, i, 5000)])
            for i in range(args.batches)
        ]
        _timed(store, steady[:2])  # warm up: the model and its features are known after
        _report("steady", *_timed(store, steady[2:]))
        models = [
            PredictionBlock(f"m{i}", "v1", [f"m{i}"], features={"x": [1.0], "y": ["a"]})
            for i in range(args.models)
        ]
        _report("new models", *_timed(store, [AcceptedBatch("models", NOW, predictions=models)]))
        wide = PredictionBlock(
            "wide", "v1", [f"w{k}" for k in range(10)],
            features={f"f{j}": [float(j)] * 10 for j in range(args.features)},
        )  # fmt: skip
        _report("wide", *_timed(store, [AcceptedBatch("wide", NOW, predictions=[wide])]))
        store.close()


if __name__ == "__main__":
    main()
