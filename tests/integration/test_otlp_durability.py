"""Spans acknowledged by ``POST /v1/traces`` survive a SIGKILL of the collector."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import duckdb
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from mlpulse.domain.auth import Scope
from mlpulse.testing.process import CollectorProcess, create_key

pytestmark = pytest.mark.slow

ATTRIBUTES = [
    KeyValue(key="mlpulse.model", value=AnyValue(string_value="otlp-crash")),
    KeyValue(key="mlpulse.version", value=AnyValue(string_value="v1")),
    KeyValue(key="mlpulse.feature.amount", value=AnyValue(double_value=12.5)),
]


def _export(n: int) -> tuple[list[str], bytes]:
    """``n`` spans of fresh random ids; their request ids (trace id + span id)."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    now = time.time_ns()
    ids = []
    for _ in range(n):
        trace_id, span_id = os.urandom(16), os.urandom(8)
        span = spans.add(
            trace_id=trace_id,
            span_id=span_id,
            name="predict",
            start_time_unix_nano=now - 2_000_000,
            end_time_unix_nano=now,
        )
        span.attributes.extend(ATTRIBUTES)
        ids.append(trace_id.hex() + span_id.hex())
    return ids, request.SerializeToString()


def _send_until_refused(url: str, key: str, acknowledged: list[str], stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}
    with httpx.Client(timeout=5.0) as http:
        while not stop.is_set():
            ids, body = _export(200)
            try:
                response = http.post(f"{url}/v1/traces", content=body, headers=headers)
            except httpx.TransportError:
                return  # the collector is gone: what was not acknowledged may be lost
            if response.status_code == 200:
                answer = ExportTraceServiceResponse.FromString(response.content)
                assert not answer.HasField("partial_success")
                acknowledged.extend(ids)


def test_collector_keeps_acknowledged_spans_when_killed_with_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = create_key(data_dir, [Scope.ADMIN])
    collector = CollectorProcess(data_dir).start()
    acknowledged: list[list[str]] = [[], []]
    stop = threading.Event()
    senders = [
        threading.Thread(target=_send_until_refused, args=(collector.url, key, acked, stop))
        for acked in acknowledged
    ]
    for sender in senders:
        sender.start()
    deadline = time.monotonic() + 30
    while sum(map(len, acknowledged)) < 4_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    collector.kill()  # mid-stream: exports are in flight and commits are queued
    stop.set()
    for sender in senders:
        sender.join(10)
    acked = {rid for ids in acknowledged for rid in ids}
    assert len(acked) >= 4_000

    CollectorProcess(data_dir).start().stop()  # a restart replays what the store holds
    with duckdb.connect(str(data_dir / "events.duckdb"), read_only=True) as con:
        stored = [
            row[0]
            for row in con.execute(
                "SELECT request_id FROM predictions WHERE model = 'otlp-crash'"
            ).fetchall()
        ]
    assert len(stored) == len(set(stored)), "an export was stored twice"
    missing = acked - set(stored)
    assert not missing, f"{len(missing)} acknowledged spans lost, e.g. {sorted(missing)[:3]}"
