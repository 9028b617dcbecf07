"""The client's calls: what arrives at the collector, and what never breaks the caller."""

from __future__ import annotations

import gc
import gzip
import logging
import weakref
from typing import Any

import msgspec
import pytest

import mlpulse
from mlpulse.domain.events import Batch, Label, Outcome, Prediction


def test_client_delivers_prediction_with_all_fields(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url)
    request_id = client.log_prediction(
        "fraud",
        "v3",
        {"amount": 12.5, "country": "DE", "new": True, "missing": None},
        1,
        request_id="r-1",
        score=0.8,
        probabilities={"0": 0.2, "1": 0.8},
        latency_ms=3.5,
        segment={"region": "eu"},
        trace_id="t-1",
        timestamp=1767225600.0,
    )
    assert client.flush(timeout=4)

    assert request_id == "r-1"
    assert receiver.events() == [
        Prediction(
            model="fraud",
            version="v3",
            request_id="r-1",
            features={"amount": 12.5, "country": "DE", "new": True, "missing": None},
            prediction=1,
            timestamp=1767225600.0,
            score=0.8,
            probabilities={"0": 0.2, "1": 0.8},
            latency_ms=3.5,
            segment={"region": "eu"},
            trace_id="t-1",
        )
    ]


def test_client_returns_unique_request_ids_that_arrive(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url)
    returned = [client.log_prediction("fraud", "v3", {"x": float(i)}) for i in range(500)]
    assert client.flush(timeout=4)

    assert len(set(returned)) == 500
    assert [p.request_id for p in receiver.predictions()] == returned
    assert [p.features["x"] for p in receiver.predictions()] == [float(i) for i in range(500)]


def test_client_delivers_labels_and_outcomes_joined_by_request_id(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url)
    request_id = client.log_prediction("fraud", "v3", {"x": 1.0}, 0)
    client.log_label("fraud", request_id, 1, version="v3", timestamp=1767225700.0)
    client.log_outcome(
        "purchase", 19.99, model="fraud", version="v3", request_id=request_id, unit_id="u-7"
    )
    assert client.flush(timeout=4)

    (label,) = [e for e in receiver.events() if isinstance(e, Label)]
    (outcome,) = [e for e in receiver.events() if isinstance(e, Outcome)]
    assert label == Label(
        model="fraud", request_id=request_id, label=1, version="v3", timestamp=1767225700.0
    )
    assert isinstance(outcome, Outcome)
    assert (outcome.name, outcome.value, outcome.request_id, outcome.unit_id) == (
        "purchase",
        19.99,
        request_id,
        "u-7",
    )
    assert isinstance(outcome.timestamp, float) and outcome.timestamp > 1.7e9


def test_client_stamps_events_with_the_time_of_the_call(receiver: Any, make_client: Any) -> None:
    import time

    client = make_client(receiver.url)
    before = time.time()
    client.log_prediction("fraud", "v3", {})
    after = time.time()
    assert client.flush(timeout=4)

    (prediction,) = receiver.predictions()
    assert before <= prediction.timestamp <= after


def test_client_copies_features_so_callers_may_reuse_the_dict(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url)
    features: dict[str, Any] = {"amount": 1.0}
    client.log_prediction("fraud", "v3", features)
    features["amount"] = 2.0
    client.log_prediction("fraud", "v3", features)
    features.clear()
    assert client.flush(timeout=4)

    assert [p.features for p in receiver.predictions()] == [{"amount": 1.0}, {"amount": 2.0}]


def test_client_encodes_numpy_scalars_and_arrays(receiver: Any, make_client: Any) -> None:
    np = pytest.importorskip("numpy")
    client = make_client(receiver.url)
    client.log_prediction(
        "fraud",
        "v3",
        {"f32": np.float32(1.5), "i64": np.int64(3), "flag": np.bool_(True), "nan": np.nan},
        np.int64(1),
        score=np.float64(0.25),
    )
    assert client.flush(timeout=4)

    (prediction,) = receiver.predictions()
    assert prediction.features["f32"] == 1.5
    assert prediction.features["i64"] == 3
    assert prediction.features["flag"] is True
    assert prediction.features["nan"] != prediction.features["nan"]  # NaN travels as NaN
    assert (prediction.prediction, prediction.score) == (1, 0.25)


def test_client_sends_msgpack_with_bearer_key_to_ingest_path(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url + "/")
    client.log_prediction("fraud", "v3", {"x": 1.0})
    assert client.flush(timeout=4)

    (request,) = receiver.requests
    assert request.headers["Authorization"] == "Bearer test-key"
    assert request.headers["Content-Type"] == "application/msgpack"
    assert "Content-Encoding" not in request.headers
    assert msgspec.msgpack.decode(request.body, type=Batch).batch_id


def test_client_gzips_bodies_when_asked(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url, compression="gzip")
    for i in range(100):
        client.log_prediction("fraud", "v3", {"x": float(i), "country": "DE"})
    assert client.flush(timeout=4)

    assert all(r.headers["Content-Encoding"] == "gzip" for r in receiver.requests)
    assert len(receiver.predictions()) == 100
    raw = receiver.requests[0].body
    assert len(raw) < len(gzip.decompress(raw))


def test_client_ships_a_full_batch_without_waiting_for_the_interval(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url, batch_size=10, flush_interval=60.0)
    for i in range(10):
        client.log_prediction("fraud", "v3", {"x": float(i)})

    assert len(receiver.wait_for_events(10, timeout=4)) == 10


def test_client_splits_buffered_events_into_batches_of_batch_size(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url, batch_size=7, flush_interval=60.0)
    for i in range(30):
        client.log_prediction("fraud", "v3", {"x": float(i)})
    assert client.flush(timeout=4)

    sizes = [len(receiver.rows_of(r.batch)) for r in receiver.requests]
    assert sum(sizes) == 30
    assert max(sizes) <= 7
    assert len({r.batch.batch_id for r in receiver.requests}) == len(sizes)


def test_client_close_flushes_and_later_calls_are_dropped_not_raised(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url, flush_interval=60.0)
    for i in range(5):
        client.log_prediction("fraud", "v3", {"x": float(i)})

    assert client.close() is True
    assert len(receiver.predictions()) == 5
    assert client.close() is True  # idempotent

    client.log_prediction("fraud", "v3", {"x": 9.0})
    client.log_label("fraud", "r", 1)
    client.log_outcome("click")
    stats = client.stats()
    assert (stats.logged, stats.sent, stats.dropped) == (8, 5, 3)


def test_client_as_context_manager_closes_on_exit(receiver: Any) -> None:
    with mlpulse.Client(receiver.url, "k", flush_interval=60.0) as client:
        client.log_prediction("fraud", "v3", {"x": 1.0})
    assert len(receiver.predictions()) == 1
    assert client.stats().sent == 1


def test_client_never_raises_on_bad_values_and_counts_rejections(
    receiver: Any, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(receiver.url)

    client.log_prediction("fraud", "v3", None)
    client.log_prediction(123, "v3", {"x": object()})
    client.log_prediction("fraud", "v3", {"x": 2**80})
    client.log_prediction("fraud", "v3", {"ok": 1.0}, probabilities=5)
    client.log_prediction("fraud", "v3", {"ok": 2.0})
    with caplog.at_level(logging.WARNING, logger="mlpulse.sdk"):
        assert client.flush(timeout=4)

    # Values MessagePack cannot carry are refused here; the rest goes as it is and the
    # collector rejects each bad event, naming the field.
    assert [p.features for p in receiver.predictions()] == [{"ok": 2.0}]
    stats = client.stats()
    assert (stats.logged, stats.sent, stats.rejected) == (5, 1, 4)
    assert "could not encode 2 of 5 events" in caplog.text
    assert "object" in caplog.text
    assert "collector rejected 2 of 3 events" in caplog.text
    assert "events[0].features" in caplog.text


def test_client_stats_add_up(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url)
    for i in range(50):
        client.log_prediction("fraud", "v3", {"x": float(i)})
    stats = client.stats()
    assert stats.logged == 50
    assert (
        stats.sent + stats.rejected + stats.dropped + stats.buffered + stats.in_flight
        == stats.logged
    )
    assert client.flush(timeout=4)
    assert client.stats() == mlpulse.sdk.ClientStats(
        logged=50, sent=50, rejected=0, dropped=0, retries=0, buffered=0, in_flight=0
    )


def test_client_is_not_kept_alive_by_its_thread_or_hooks(receiver: Any) -> None:
    client = mlpulse.Client(receiver.url, "k", flush_interval=0.02)
    client.log_prediction("fraud", "v3", {"x": 1.0})
    ref = weakref.ref(client)
    del client
    gc.collect()

    assert ref() is None
    # Dropped without close(): its shipper still delivers what it held.
    assert len(receiver.wait_for_events(1)) == 1


def test_client_repr_does_not_show_the_api_key(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url)
    assert "test-key" not in repr(client)
    assert receiver.url in repr(client)
