"""The collector's cost per event, stage by stage, on the same 5,000-prediction batches.

One process runs each stage of the ingest path over the same batches (20 numeric and 5
categorical features, what the SDK sends: MessagePack column blocks), one stage after
the other, and reports wall time and this process's CPU time per event:

- decode: the request body to events (msgspec, C);
- screen: printable names and the limits on models and features;
- submit: schema tracking and the accepted batch (the store's part excluded);
- store, embedded: the DuckDB event store's append until the commit is acknowledged;
- store, PostgreSQL: the PostgreSQL writer (rows, binary COPY, commit), with the stream
  log appended in the same transaction, and once more without it (the log's own cost
  is the difference), with the PostgreSQL server's CPU beside it (it runs here);
- stream log entry: encoding a batch's log entry (inside the writer's time above);
- window profiles: the aggregator's minute profiles;
- stream detectors: the per-event detectors and the canary comparison;
- minute flush: one minute profile encoded and written, per (model, version, minute).

Stores are written one batch at a time (no group commit with other requests), so their
figures are an upper bound for a busy collector. HTTP, the event loop and thread hand-offs
are not here: they are the difference from ``bench/ingest.py``'s collector CPU per event.

    .venv/bin/python bench/ingest_stages.py [--batches 20] [--batch-size 5000]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import psycopg

from cluster_ingest import _postgres_cpu  # type: ignore[import-not-found]
from ingest import _feature_pool  # type: ignore[import-not-found]
from mlpulse.adapters.clock import SystemClock
from mlpulse.adapters.cluster import stream_log
from mlpulse.adapters.store.factory import open_backend
from mlpulse.domain.blocks import blocks_from_rows
from mlpulse.domain.events import Batch, Prediction
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.ports import Backend
from mlpulse.server.ingest.decode import MSGPACK_TYPES, DecodedBatch, decode_batch, media_format
from mlpulse.server.ingest.screen import screen
from mlpulse.server.settings import Settings
from mlpulse.services.ingest import IngestService, Observers, SchemaTracker
from mlpulse.services.stream_detection import StreamDetectors
from mlpulse.services.windows import ModelKinds, WindowAggregator

Timing = dict[str, float]


def _bodies(batches: int, size: int) -> list[bytes]:
    """The SDK's request bodies: column blocks of one model version, MessagePack."""
    pool = _feature_pool(7, 2000)
    now = time.time()
    bodies = []
    for b in range(batches):
        rows = [
            Prediction(model="bench", version="v1", request_id=f"{b}-{i}",
                       features=pool[i % len(pool)], prediction=1, timestamp=now,
                       score=0.5, latency_ms=3.0)
            for i in range(size)
        ]  # fmt: skip
        body = Batch(predictions=blocks_from_rows(rows), batch_id=uuid.uuid4().hex)
        bodies.append(msgspec.msgpack.encode(body))
    return bodies


@contextmanager
def _timed(
    out: Timing, events: int, server_cpu: Callable[[], float] | None = None
) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    server = server_cpu() if server_cpu else 0.0
    yield
    out["wall_us"] = (time.perf_counter() - wall) / events * 1e6
    out["cpu_us"] = (time.process_time() - cpu) / events * 1e6
    if server_cpu:
        out["server_us"] = (server_cpu() - server) / events * 1e6


class _NoObserver:
    def observe(self, *args: Any) -> None:
        pass


def _pipeline(backend: Backend) -> tuple[IngestService, SchemaTracker]:
    metadata = backend.metadata
    schemas = SchemaTracker(
        metadata, versions=metadata.known_versions(), columns=metadata.known_columns()
    )
    return IngestService(
        backend.events, schemas, SystemClock(), Observers([_NoObserver()])
    ), schemas


def _front(
    bodies: list[bytes], backend: Backend, results: dict[str, Timing]
) -> list[AcceptedBatch]:
    """Decode, screen and submit-without-store; the accepted batches for the later stages."""
    service, schemas = _pipeline(backend)
    fmt = media_format(next(iter(MSGPACK_TYPES)))
    n = _events(bodies)
    warm = screen(decode_batch(bodies[0], fmt), service.names, schemas)  # admits the names
    schemas.track(warm.blocks, now=time.time())
    decoded: list[DecodedBatch] = []
    with _timed(results.setdefault("decode", {}), n):
        for body in bodies:
            decoded.append(decode_batch(body, fmt))
    screened: list[DecodedBatch] = []
    with _timed(results.setdefault("screen (names, limits)", {}), n):
        for batch in decoded:
            screened.append(screen(batch, service.names, schemas))
    accepted = []
    with _timed(results.setdefault("submit (schema, batch)", {}), n):
        for batch in screened:
            schemas.track(batch.blocks, now=time.time())
            accepted.append(AcceptedBatch(batch.batch_id or "", time.time(), batch.blocks))
    return accepted


def _events(bodies: list[bytes]) -> int:
    return sum(
        len(b) for body in bodies for b in msgspec.msgpack.decode(body, type=Batch).predictions
    )


def _store(
    backend: Backend, batches: list[AcceptedBatch], out: Timing, server: Callable[[], float] | None
) -> None:
    backend.events.append(batches[0]).result()  # warm-up, not timed
    rest = batches[1:]
    with _timed(out, sum(len(p) for b in rest for p in b.predictions), server):
        for batch in rest:
            backend.events.append(batch).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    bodies = _bodies(args.batches + 1, args.batch_size)
    results: dict[str, Timing] = {}
    sizes: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mlpulse-stages-") as tmp:
        embedded = open_backend(Settings(data_dir=Path(tmp) / "embedded"))
        try:
            batches = _front(bodies, embedded, results)
            _store(embedded, batches, results.setdefault("store, embedded (DuckDB)", {}), None)
            n = sum(len(p) for b in batches for p in b.predictions)
            with _timed(results.setdefault("stream log entry (encode)", {}), n):
                for batch in batches:
                    stream_log.entry(batch)
            aggregator = WindowAggregator(
                embedded.series, writer="bench", kinds=ModelKinds(embedded.metadata)
            )
            with _timed(results.setdefault("window profiles", {}), n):
                for batch in batches:
                    aggregator.add(batch)
            detectors = StreamDetectors(embedded.series, SystemClock())
            with _timed(results.setdefault("stream detectors", {}), n):
                for batch in batches:
                    detectors(batch)
            keys = aggregator.open_minutes
            started = time.perf_counter()
            aggregator.flush()
            results["minute flush"] = {"ms_per_key": (time.perf_counter() - started) / keys * 1e3}
            written = embedded.series.read_profiles("bench", start=0, end=4e9)
            sizes["a minute profile (25 features), per (model, version, minute, writer)"] = max(
                len(row.profile) for row in written
            )
        finally:
            embedded.close()
        sizes["DuckDB file (events.duckdb, checkpointed), per event"] = (
            Path(tmp, "embedded", "events.duckdb").stat().st_size / n
        )
        name = f"mlpulse_stages_{uuid.uuid4().hex[:8]}"
        admin = psycopg.connect(args.postgres, autocommit=True)
        try:
            admin.execute(f"CREATE DATABASE {name}")
            url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
            postgres = open_backend(Settings(data_dir=Path(tmp) / "pg", store=url))
            try:
                fresh = [dataclasses.replace(b, batch_id=uuid.uuid4().hex) for b in batches]
                _store(
                    postgres,
                    fresh,
                    results.setdefault("store, PostgreSQL (with stream log)", {}),
                    _postgres_cpu,
                )
                fresh = [dataclasses.replace(b, batch_id=uuid.uuid4().hex) for b in batches]
                append = stream_log.append
                stream_log.append = lambda cursor, batches: 0  # type: ignore[assignment]  # bench probe
                try:
                    _store(
                        postgres,
                        fresh,
                        results.setdefault("store, PostgreSQL (no stream log)", {}),
                        _postgres_cpu,
                    )
                finally:
                    stream_log.append = append  # type: ignore[assignment]
                with psycopg.connect(url, autocommit=True) as con:
                    con.execute("VACUUM ANALYZE")

                    def size(table: str) -> int:
                        row = con.execute(
                            "SELECT pg_total_relation_size(%s::regclass)", (table,)
                        ).fetchone()
                        assert row is not None
                        return int(row[0])

                    # Both runs stored every batch; only the first appended to the log.
                    sizes["PostgreSQL predictions, per event"] = size("predictions") / (2 * n)
                    sizes["PostgreSQL stream_log, per event"] = size("stream_log") / n
                    sizes["PostgreSQL batches, per batch"] = size("batches") / (2 * len(batches))
            finally:
                postgres.close()
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.close()
    print(
        f"{args.batches} batches of {args.batch_size} predictions "
        "(20 numeric and 5 categorical features)"
    )
    print(
        "| stage | wall µs/event | CPU µs/event (this process) | PostgreSQL server CPU µs/event |"
    )
    print("| --- | ---: | ---: | ---: |")
    for stage, r in results.items():
        if "ms_per_key" in r:
            print(f"| {stage} | {r['ms_per_key']:.2f} ms per (model, version, minute) | | |")
            continue
        server = f"{r['server_us']:.2f}" if "server_us" in r else ""
        print(f"| {stage} | {r['wall_us']:.2f} | {r['cpu_us']:.2f} | {server} |")
    print("| stored | bytes |")
    print("| --- | ---: |")
    for table, bytes_ in sizes.items():
        print(f"| {table} | {bytes_:.0f} |")


if __name__ == "__main__":
    main()
