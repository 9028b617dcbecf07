"""``client.track(...)``: timing, results set in the block, errors logged and re-raised."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mlpulse.sdk.track import MAX_ERROR_LENGTH


def test_track_logs_latency_and_results_set_in_the_block(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url)
    with client.track("fraud", "v3", {"amount": 12.5}, segment={"region": "eu"}) as t:
        time.sleep(0.02)
        t.prediction = 1
        t.score = 0.9
        t.probabilities = {"0": 0.1, "1": 0.9}
        request_id = t.request_id
    assert client.flush(timeout=4)

    (prediction,) = receiver.predictions()
    assert prediction.request_id == request_id
    assert (prediction.prediction, prediction.score) == (1, 0.9)
    assert prediction.probabilities == {"0": 0.1, "1": 0.9}
    assert prediction.segment == {"region": "eu"}
    assert prediction.error is None
    assert prediction.latency_ms is not None and 15.0 <= prediction.latency_ms < 2000.0
    assert t.latency_ms == prediction.latency_ms


def test_track_logs_the_error_and_reraises_it(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url)
    with (
        pytest.raises(ValueError, match="model exploded") as raised,
        client.track("fraud", "v3", {"amount": 1.0}, request_id="r-9"),
    ):
        raise ValueError("model exploded")
    assert client.flush(timeout=4)

    (prediction,) = receiver.predictions()
    assert prediction.request_id == "r-9"
    assert prediction.error == "ValueError: model exploded"
    assert prediction.prediction is None
    assert prediction.latency_ms is not None and prediction.latency_ms >= 0.0
    assert str(raised.value) == "model exploded"


def test_track_truncates_long_error_messages(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url)
    with pytest.raises(RuntimeError), client.track("fraud", "v3", {}):
        raise RuntimeError("x" * 50_000)
    assert client.flush(timeout=4)

    (prediction,) = receiver.predictions()
    assert prediction.error is not None
    assert prediction.error.startswith("RuntimeError: xxx")
    assert len(prediction.error) == MAX_ERROR_LENGTH


def test_track_uses_the_block_start_as_timestamp(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url)
    before = time.time()
    with client.track("fraud", "v3", {}):
        time.sleep(0.01)
    assert client.flush(timeout=4)

    (prediction,) = receiver.predictions()
    assert prediction.timestamp is not None and before <= prediction.timestamp < before + 0.009
