"""OTLP intake: protobuf trace exports → ``POST /v1/traces`` → durable predictions.

Two parts. First, in this process, the cost of turning one export of 1,000 spans (10
attributes each: model, version, score, prediction, 5 numeric features, one unrelated)
into prediction events: protobuf decoding plus the attribute mapping, best of 5. Then a
collector in a child process takes such exports from sender threads over loopback as
fast as it acknowledges them (each export distinct: the batch id is the body's digest,
so a repeated body would be a retry and not stored again); the rate is acknowledged spans
over wall time, and request → acknowledgement is timed around each request.

    .venv/bin/python bench/otlp_intake.py [--seconds 20] [--senders 2] [--spans 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from mlpulse.domain.auth import Scope
from mlpulse.domain.otlp import trace_intake
from mlpulse.server.otlp.decode import PROTOBUF, decode_spans
from mlpulse.testing.process import CollectorProcess, create_key


def export(spans: int, seed: int) -> bytes:
    request = ExportTraceServiceRequest()
    out = request.resource_spans.add().scope_spans.add().spans
    now = time.time_ns()
    fixed = [
        KeyValue(key="mlpulse.model", value=AnyValue(string_value="bench-otlp")),
        KeyValue(key="mlpulse.version", value=AnyValue(string_value="v1")),
        KeyValue(key="http.route", value=AnyValue(string_value="/predict")),
    ]
    for i in range(spans):
        span = out.add(
            trace_id=os.urandom(16),
            span_id=os.urandom(8),
            name="predict",
            start_time_unix_nano=now - 5_000_000,
            end_time_unix_nano=now,
        )
        span.attributes.extend(fixed)
        span.attributes.extend(
            [
                KeyValue(key="mlpulse.score", value=AnyValue(double_value=(i % 100) / 100)),
                KeyValue(key="mlpulse.prediction", value=AnyValue(int_value=i % 2)),
                *(
                    KeyValue(key=f"mlpulse.feature.x{j}", value=AnyValue(double_value=seed + j))
                    for j in range(5)
                ),
            ]
        )
    return request.SerializeToString()


def mapping_cost(spans: int) -> float:
    body = export(spans, 0)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        intake = trace_intake(decode_spans(body, PROTOBUF))
        best = min(best, time.perf_counter() - started)
    assert len(intake.predictions) == spans
    return best / spans


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--spans", type=int, default=1000)
    args = parser.parse_args()

    per_span = mapping_cost(args.spans)
    print(f"decode + map, in process: {per_span * 1e6:.1f} µs a span")

    bodies = [export(args.spans, seed) for seed in range(int(args.seconds * 40))]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        key = create_key(data, [Scope.INGEST])
        collector = CollectorProcess(data).start()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": PROTOBUF}
        lock = threading.Lock()
        times: list[float] = []
        acked = [0]
        stop = time.monotonic() + args.seconds

        def send() -> None:
            with httpx.Client(timeout=30) as http:
                while time.monotonic() < stop:
                    with lock:
                        if not bodies:
                            return
                        body = bodies.pop()
                    started = time.perf_counter()
                    response = http.post(
                        f"{collector.url}/v1/traces", content=body, headers=headers
                    )
                    elapsed = time.perf_counter() - started
                    assert response.status_code == 200, response.text
                    with lock:
                        times.append(elapsed)
                        acked[0] += args.spans

        try:
            started = time.monotonic()
            threads = [threading.Thread(target=send) for _ in range(args.senders)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.monotonic() - started
        finally:
            collector.stop()
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(
        f"{acked[0]:,} spans acknowledged in {wall:.1f} s: {acked[0] / wall:,.0f} spans/s; "
        f"request → ack p50 {statistics.median(times) * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms "
        f"({args.senders} senders, {args.spans} spans an export)"
    )


if __name__ == "__main__":
    main()
