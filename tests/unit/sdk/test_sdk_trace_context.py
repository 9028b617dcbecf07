"""Predictions carry the trace id of the active OpenTelemetry span, if there is one."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from mlpulse.sdk.trace_context import current_span_ids, current_trace_id

# A provider of our own (not the global one, which can be set once per process).
TRACER = TracerProvider().get_tracer("mlpulse-tests")


def test_log_prediction_records_the_active_span_trace_id(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url)
    with TRACER.start_as_current_span("predict") as span:
        client.log_prediction("fraud", "v3", {"amount": 1.0}, 1, request_id="in")
        expected = f"{span.get_span_context().trace_id:032x}"
    client.log_prediction("fraud", "v3", {"amount": 2.0}, 0, request_id="out")
    assert client.flush(timeout=4)

    by_id = {p.request_id: p for p in receiver.predictions()}
    assert by_id["in"].trace_id == expected
    assert len(expected) == 32 and int(expected, 16) != 0
    assert by_id["out"].trace_id is None


def test_log_prediction_keeps_an_explicit_trace_id_when_a_span_is_active(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url)
    with TRACER.start_as_current_span("predict"):
        client.log_prediction("fraud", "v3", {}, 1, request_id="r", trace_id="mine-7")
    assert client.flush(timeout=4)

    (prediction,) = receiver.predictions()
    assert prediction.trace_id == "mine-7"


def test_track_records_the_trace_id_of_the_span_around_it(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url)
    with TRACER.start_as_current_span("request") as span, client.track("fraud", "v3", {}) as t:
        t.prediction = 1
    assert client.flush(timeout=4)

    (prediction,) = receiver.predictions()
    assert prediction.trace_id == f"{span.get_span_context().trace_id:032x}"


def test_current_span_ids_are_the_span_context_in_hex() -> None:
    assert current_span_ids() is None
    with TRACER.start_as_current_span("outer"), TRACER.start_as_current_span("inner") as inner:
        context = inner.get_span_context()
        ids = current_span_ids()
        trace_id = current_trace_id()
    assert ids == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert trace_id == ids[0]
    assert current_trace_id() is None


def test_current_trace_id_is_none_for_a_non_recording_invalid_span() -> None:
    with trace.use_span(trace.INVALID_SPAN):
        assert current_trace_id() is None
        assert current_span_ids() is None


def test_current_trace_id_is_none_when_opentelemetry_is_not_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "opentelemetry.trace")
    with TRACER.start_as_current_span("unseen"):
        assert current_trace_id() is None
        assert current_span_ids() is None


def test_logging_a_prediction_imports_no_opentelemetry() -> None:
    # OpenTelemetry is installed here: the SDK must still not import it.
    code = (
        "import sys, mlpulse;"
        "client = mlpulse.Client('http://127.0.0.1:9', 'k', flush_interval=3600.0);"
        "client.log_prediction('fraud', 'v3', {'a': 1.0}, 1);"
        "item = client._buffer[-1]; client.close(timeout=0.0);"
        "print(item[11], sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None []"
