"""What ``Client.log_prediction`` costs the serving thread, beside ``Histogram.observe()``.

One call logs a prediction with 20 numeric and 5 categorical features. Each call is timed
on its own with ``time.perf_counter_ns`` (GC left on), interleaved in chunks with
prometheus_client's ``Histogram.observe()`` (own registry) so both see the same noise,
in three conditions:

- collector up: a receiver answering 200 in another process, the client at its defaults;
- collector down, buffering: nothing listens on the port, the buffer has room for every call;
- collector down, buffer full: nothing listens, every call takes the drop path.

Then, with OpenTelemetry imported (the SDK looks it up in ``sys.modules`` and never imports
it itself), the collector-up condition twice more: no span active, and every call inside an
active span, so the SDK reads the span's trace id. The conditions without OpenTelemetry run
first, before the benchmark imports it.

Between timed calls the loop does a few microseconds of untimed "request work", so the
shipper thread runs beside the serving thread as it would in a server (a bare loop would
log a million events a second, more than any process serves).

Then the shipper's side: µs per event to turn buffered events into the wire batch (a
column block per model version) and to encode a 1,000-event batch as MessagePack (what the
SDK sends), with gzip, and as JSON; and the same for the row form, for comparison.

    .venv/bin/python bench/sdk_overhead.py [--calls 200000] [--work-us 10] [--batch-size 1000]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import importlib.metadata
import json
import logging
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry, Histogram

import mlpulse
from mlpulse.domain.events import Batch
from mlpulse.domain.ingest import IngestResult
from mlpulse.sdk.wire import BatchEncoder, encode_hook, to_batch, to_event

CHUNK = 1_000
CATEGORIES = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")


def feature_pool(size: int = CHUNK, seed: int = 0) -> list[dict[str, Any]]:
    """Rows of 20 numeric and 5 categorical features with realistic (varied) values."""
    rng = random.Random(seed)
    return [
        {f"n{j}": rng.gauss(0.0, 1.0) for j in range(20)}
        | {f"c{j}": rng.choice(CATEGORIES) for j in range(5)}
        for _ in range(size)
    ]


FEATURES = feature_pool()


# -- a collector stand-in, run in its own process ------------------------------------


def serve(port: int) -> None:
    """Answer every batch with 200 and an IngestResult (decoding it, as a collector would)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            batch = msgspec.msgpack.decode(body, type=Batch)
            accepted = len(batch.events) + sum(len(block) for block in batch.predictions)
            out = msgspec.json.encode(
                IngestResult(batch_id=batch.batch_id or "", accepted=accepted)
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_receiver() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the receiver did not start")


# -- timing the serving thread -------------------------------------------------------


def spin(iterations: int) -> None:
    """Untimed stand-in for the rest of a request's work."""
    total = 0
    for i in range(iterations):
        total += i


def spins_per_microsecond() -> float:
    started = time.perf_counter()
    spin(200_000)
    return 200_000 / ((time.perf_counter() - started) * 1e6)


def time_log_prediction(client: mlpulse.Client, out: list[int], work: int) -> None:
    clock = time.perf_counter_ns
    for features in FEATURES:
        spin(work)
        started = clock()
        client.log_prediction("fraud", "v3", features, 1, score=0.31, latency_ms=2.5)
        out.append(clock() - started)


def time_observe(histogram: Histogram, out: list[int], work: int) -> None:
    clock = time.perf_counter_ns
    for _ in range(CHUNK):
        spin(work)
        started = clock()
        histogram.observe(0.0031)
        out.append(clock() - started)


def time_nothing(out: list[int]) -> None:
    clock = time.perf_counter_ns
    for _ in range(CHUNK):
        started = clock()
        out.append(clock() - started)


def percentile(samples: Sequence[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0


def run_condition(
    name: str,
    client: mlpulse.Client,
    calls: int,
    work: int,
    *,
    context: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> dict[str, float | str]:
    histogram = Histogram(
        "request_latency_seconds", "Request latency.", registry=CollectorRegistry()
    )
    logged: list[int] = []
    observed: list[int] = []
    for _ in range(calls // CHUNK):
        with context():  # e.g. an active OpenTelemetry span around the chunk
            time_log_prediction(client, logged, work)
            time_observe(histogram, observed, work)
    stats = client.stats()
    return {
        "condition": name,
        "log_p50": percentile(logged, 0.50),
        "log_p99": percentile(logged, 0.99),
        "obs_p50": percentile(observed, 0.50),
        "obs_p99": percentile(observed, 0.99),
        "detail": (
            f"sent={stats.sent} rejected={stats.rejected} buffered={stats.buffered} "
            f"dropped={stats.dropped} retries={stats.retries}"
        ),
    }


def serving_thread_table(calls: int, work_us: float, batch_size: int) -> None:
    work = max(0, round(work_us * spins_per_microsecond()))
    floor: list[int] = []
    for _ in range(50):
        time_nothing(floor)
    print(
        f"{calls:,} timed calls of each per condition; ~{work_us:g} µs of untimed work "
        f"between calls; timer floor (empty timed region) p50 {percentile(floor, 0.5):.2f} µs"
    )
    rows = []

    receiver, url = start_receiver()
    try:
        with mlpulse.Client(
            url, "bench-key", batch_size=batch_size, max_buffer=max(10_000, batch_size)
        ) as client:
            rows.append(run_condition("collector up", client, calls, work))
            client.flush(timeout=30)
    finally:
        receiver.terminate()
        receiver.wait()

    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with mlpulse.Client(down, "bench-key", max_buffer=calls + CHUNK) as client:
        rows.append(run_condition("collector down, buffering", client, calls, work))
        client.close(timeout=0.0)
    gc.collect()

    with mlpulse.Client(down, "bench-key") as client:
        for i in range(10_000):  # fill the default buffer (10,000): every call now drops
            client.log_prediction("fraud", "v3", FEATURES[i % CHUNK], 1)
        rows.append(run_condition("collector down, buffer full", client, calls, work))
        client.close(timeout=0.0)

    rows.extend(traced_rows(calls, work, batch_size))

    header = (
        f"{'condition':<30} {'log_prediction µs':>18} {'observe µs':>14} "
        f"{'ratio':>13}  client counters"
    )
    print(header)
    print(f"{'':<30} {'p50':>8} {'p99':>9} {'p50':>6} {'p99':>7} {'p50':>6} {'p99':>6}")
    for row in rows:
        print(
            f"{row['condition']:<30} {row['log_p50']:>8.2f} {row['log_p99']:>9.2f} "
            f"{row['obs_p50']:>6.2f} {row['obs_p99']:>7.2f} "
            f"{float(row['log_p50']) / float(row['obs_p50']):>6.1f} "
            f"{float(row['log_p99']) / float(row['obs_p99']):>6.1f}  {row['detail']}"
        )


def traced_rows(calls: int, work: int, batch_size: int) -> list[dict[str, float | str]]:
    """Collector up, with OpenTelemetry imported: no span active, then inside a span."""
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("bench")  # records spans, exports nowhere

    @contextmanager
    def in_span() -> Iterator[object]:
        with tracer.start_as_current_span("request") as span:
            yield span

    rows = []
    receiver, url = start_receiver()
    try:
        for name, context in (
            ("up, OTel imported, no span", nullcontext),
            ("up, inside an active span", in_span),
        ):
            with mlpulse.Client(
                url, "bench-key", batch_size=batch_size, max_buffer=max(10_000, batch_size)
            ) as client:
                rows.append(run_condition(name, client, calls, work, context=context))
                client.flush(timeout=30)
    finally:
        receiver.terminate()
        receiver.wait()
    return rows


# -- the shipper thread's side -------------------------------------------------------


def per_event_us(work: Callable[[], object], events: int, repeat: int = 30) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) / events * 1e6


def encoding_table(batch_size: int = 1_000) -> None:
    # Buffered tuples exactly as the hot path makes them: log into a client that never
    # ships (no collector, long interval) and read its buffer.
    with mlpulse.Client(
        f"http://127.0.0.1:{free_port()}", "k", flush_interval=3600.0, batch_size=batch_size
    ) as client:
        rng = random.Random(1)
        for i in range(batch_size):
            client.log_prediction(
                "fraud", "v3", FEATURES[i % CHUNK], i % 2, score=rng.random(), latency_ms=2.5
            )
        items = list(client._buffer)
        client.close(timeout=0.0)

    batch_id = "0" * 32
    batch = to_batch(batch_id, items)  # what the SDK sends: one column block here
    row_batch = Batch(events=[to_event(item) for item in items], batch_id=batch_id)
    msgpack = msgspec.msgpack.Encoder(enc_hook=encode_hook)
    json_encoder = msgspec.json.Encoder(enc_hook=encode_hook)
    plain = BatchEncoder(compression=None)
    gzipped = BatchEncoder(compression="gzip")
    body = msgpack.encode(batch)
    gzip_body = gzip.compress(body, compresslevel=1, mtime=0)
    json_body = json_encoder.encode(batch)
    builtins = msgspec.to_builtins(batch)
    row_body = msgpack.encode(row_batch)
    row_json = json_encoder.encode(row_batch)

    steps: list[tuple[str, Callable[[], object], bytes | None]] = [
        ("tuples → batch of column blocks", lambda: to_batch(batch_id, items), None),
        ("MessagePack of that batch", lambda: msgpack.encode(batch), body),
        ("both: what the shipper does, sent", lambda: plain.encode(batch_id, items), body),
        ("both + gzip level 1", lambda: gzipped.encode(batch_id, items), gzip_body),
        ("JSON (msgspec), same batch", lambda: json_encoder.encode(batch), json_body),
        ("JSON (stdlib), same batch as dicts", lambda: json.dumps(builtins), json_body),
        ("row form: tuples → Prediction structs", lambda: [to_event(i) for i in items], None),
        ("row form: MessagePack", lambda: msgpack.encode(row_batch), row_body),
        ("row form: JSON (msgspec)", lambda: json_encoder.encode(row_batch), row_json),
    ]
    print(f"\nshipper thread, one batch of {batch_size:,} predictions (25 features each):")
    print(f"{'step':<40} {'µs/event':>9} {'bytes/event':>12}")
    for name, work, encoded in steps:
        size = f"{len(encoded) / batch_size:>12.0f}" if encoded is not None else f"{'':>12}"
        print(f"{name:<40} {per_event_us(work, batch_size):>9.2f} {size}")
    print("(stdlib json: dumps only, from dicts already built; it cannot take the structs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--work-us", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=1000, help="the client's batch_size")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    # The SDK's own warnings (collector down, buffer full) are expected here.
    logging.getLogger("mlpulse.sdk").setLevel(logging.ERROR)
    print(
        f"python {platform.python_version()}, msgspec {msgspec.__version__}, "
        f"prometheus_client {importlib.metadata.version('prometheus_client')}, "
        f"mlpulse {mlpulse.__version__}, {os.cpu_count()} CPUs"
    )
    serving_thread_table(args.calls, args.work_us, args.batch_size)
    encoding_table()


if __name__ == "__main__":
    main()
