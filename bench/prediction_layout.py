"""Feature storage layouts in DuckDB alone: what a prediction's features cost to write.

The same 100,000 predictions (20 batches of 5,000, 20 numeric and 5 string features, as
bench/ingest.py sends) written in four layouts, one transaction per batch, DuckDB on one
thread, the checkpoint threshold of the collector (128 MB) and one explicit checkpoint at
the end; CPU per event for the inserts and for the checkpoint, and the file's bytes per
event:

* ``typed columns``: a column per feature (the layout before: a table per model, ALTER
  TABLE for each new feature);
* ``lists``: ``numbers DOUBLE[]`` and ``strings VARCHAR[]`` with a feature set id (the
  layout of adapters/store/prediction_rows.py);
* ``maps``: ``MAP(VARCHAR, DOUBLE)`` and ``MAP(VARCHAR, VARCHAR)``;
* ``long rows``: a row per feature value in a second table.

    .venv/bin/python bench/prediction_layout.py   # ~30 s
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

N, BATCHES, NUMERIC, STRINGS = 5000, 20, 20, 5
BASE = "model VARCHAR, version VARCHAR, request_id VARCHAR, ts TIMESTAMPTZ, score DOUBLE"


def _columns(rng: np.random.Generator) -> tuple[list[pa.Array], list[pa.Array]]:
    cats = np.array(["alpha", "beta", "gamma", "delta"])
    numbers = [pa.array(rng.normal(size=N)) for _ in range(NUMERIC)]
    strings = [pa.array(cats[rng.integers(0, 4, N)].tolist(), pa.string()) for _ in range(STRINGS)]
    return numbers, strings


def _base(i: int, rng: np.random.Generator) -> dict[str, pa.Array]:
    return {
        "model": pa.array(["fraud"] * N),
        "version": pa.array(["v1"] * N),
        "request_id": pa.array([f"{i}-{k}" for k in range(N)]),
        "ts": pa.array(np.arange(N) + i * N, pa.timestamp("us", tz="UTC")),
        "score": pa.array(rng.random(N)),
    }


def _row_major(arrays: list[pa.Array]) -> tuple[pa.Array, int]:
    k = len(arrays)
    order = (np.arange(k)[None, :] * N + np.arange(N)[:, None]).ravel()
    return pa.concat_arrays(arrays).take(pa.array(order)), k


def _lists(arrays: list[pa.Array]) -> pa.Array:
    flat, k = _row_major(arrays)
    return pa.ListArray.from_arrays(pa.array(np.arange(0, N * k + 1, k, dtype=np.int32)), flat)


def _map(arrays: list[pa.Array], names: list[str]) -> pa.Array:
    flat, k = _row_major(arrays)
    keys = pa.array(names).take(pa.array(np.tile(np.arange(k), N)))
    return pa.MapArray.from_arrays(pa.array(np.arange(0, N * k + 1, k, dtype=np.int32)), keys, flat)


Batch = tuple[dict[str, pa.Array], list[pa.Array], list[pa.Array]]


def typed(con: duckdb.DuckDBPyConnection, i: int, batch: Batch) -> None:
    base, numbers, strings = batch
    table = pa.table(
        base
        | {f"n{j}": a for j, a in enumerate(numbers)}
        | {f"s{j}": a for j, a in enumerate(strings)}
    )
    con.from_arrow(table).insert_into("p")


def lists(con: duckdb.DuckDBPyConnection, i: int, batch: Batch) -> None:
    base, numbers, strings = batch
    table = pa.table(
        base
        | {"feature_set": pa.array(np.full(N, 7, np.int64)), "numbers": _lists(numbers),
           "strings": _lists(strings)}
    )  # fmt: skip
    con.from_arrow(table).insert_into("p")


def maps(con: duckdb.DuckDBPyConnection, i: int, batch: Batch) -> None:
    base, numbers, strings = batch
    table = pa.table(
        base
        | {"numbers": _map(numbers, [f"n{j}" for j in range(NUMERIC)]),
           "strings": _map(strings, [f"s{j}" for j in range(STRINGS)])}
    )  # fmt: skip
    con.from_arrow(table).insert_into("p")


def long_rows(con: duckdb.DuckDBPyConnection, i: int, batch: Batch) -> None:
    base, numbers, strings = batch
    con.from_arrow(pa.table(base)).insert_into("p")
    row = np.repeat(np.arange(N) + i * N, NUMERIC + STRINGS)
    names = [f"n{j}" for j in range(NUMERIC)] + [f"s{j}" for j in range(STRINGS)]
    flat_n, _ = _row_major(numbers)
    flat_s, _ = _row_major(strings)
    values = pa.table(
        {
            "row_id": pa.array(row),
            "feature": pa.array(names).take(pa.array(np.tile(np.arange(len(names)), N))),
            "number": pa.concat_arrays([flat_n, pa.nulls(N * STRINGS, pa.float64())]),
            "string": pa.concat_arrays([pa.nulls(N * NUMERIC, pa.string()), flat_s]),
        }
    )
    con.from_arrow(values).insert_into("f")


_TYPED = ", ".join(
    [f"n{j} DOUBLE" for j in range(NUMERIC)] + [f"s{j} VARCHAR" for j in range(STRINGS)]
)
LAYOUTS: dict[str, tuple[list[str], Callable[[duckdb.DuckDBPyConnection, int, Batch], None]]] = {
    "typed columns": ([f"CREATE TABLE p ({BASE}, {_TYPED})"], typed),
    "lists": (
        [f"CREATE TABLE p ({BASE}, feature_set BIGINT, numbers DOUBLE[], strings VARCHAR[])"],
        lists,
    ),
    "maps": (
        [f"CREATE TABLE p ({BASE}, numbers MAP(VARCHAR, DOUBLE), strings MAP(VARCHAR, VARCHAR))"],
        maps,
    ),
    "long rows": (
        [f"CREATE TABLE p ({BASE})",
         "CREATE TABLE f (row_id BIGINT, feature VARCHAR, number DOUBLE, string VARCHAR)"],
        long_rows,
    ),
}  # fmt: skip


def main() -> None:
    print(f"{'layout':<14} {'insert':>12} {'checkpoint':>12} {'file':>10}")
    for name, (ddl, write) in LAYOUTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "x.duckdb"
            con = duckdb.connect(str(path), config={"checkpoint_threshold": "128MB"})
            con.execute("SET threads = 1")
            for statement in ddl:
                con.execute(statement)
            rng = np.random.default_rng(7)
            batches = [(_base(i, rng), *_columns(rng)) for i in range(BATCHES)]
            started = time.process_time()
            for i, batch in enumerate(batches):
                con.execute("BEGIN")
                write(con, i, batch)
                con.execute("COMMIT")
            inserted = time.process_time()
            con.execute("CHECKPOINT")
            done = time.process_time()
            events = N * BATCHES
            insert_us = (inserted - started) / events * 1e6
            checkpoint_us = (done - inserted) / events * 1e6
            size = path.stat().st_size / events
            print(f"{name:<14} {insert_us:8.2f} µs {checkpoint_us:9.2f} µs {size:7.0f} B")
            con.close()


if __name__ == "__main__":
    main()
