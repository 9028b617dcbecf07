"""How the client reacts to each answer of the collector."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

import pytest

from mlpulse.domain.events import Batch
from mlpulse.domain.ingest import Rejection


def log_many(client: Any, count: int) -> list[str]:
    return [client.log_prediction("fraud", "v3", {"x": float(i)}) for i in range(count)]


def delivered_batches(receiver: Any) -> Counter[str]:
    return Counter(r.batch.batch_id for r in receiver.accepted())


@pytest.mark.parametrize("code", [503, 500, 502, 429, 408])
def test_client_retries_same_batch_until_accepted(
    receiver: Any, make_client: Any, code: int
) -> None:
    receiver.plan(receiver.status(code), receiver.status(code))
    client = make_client(receiver.url, batch_size=50)
    request_ids = log_many(client, 50)
    assert client.flush(timeout=4)

    first, second, third = receiver.requests
    assert first.status == second.status == code and third.status == 200
    # Same batch id and same bytes on every attempt: the collector can dedupe retries.
    assert first.batch.batch_id == second.batch.batch_id == third.batch.batch_id
    assert first.body == second.body == third.body
    assert [p.request_id for p in receiver.predictions()] == request_ids
    assert client.stats().retries == 2
    assert client.stats().sent == 50


def test_client_delivers_each_batch_once_through_intermittent_failures(
    receiver: Any, make_client: Any
) -> None:
    failures = iter([True, False] * 20)
    receiver.rule = lambda batch: receiver.status(503)(batch) if next(failures, False) else None
    client = make_client(receiver.url, batch_size=25)
    request_ids = log_many(client, 200)
    assert client.flush(timeout=4)

    assert sorted(p.request_id for p in receiver.predictions()) == sorted(request_ids)
    assert set(delivered_batches(receiver).values()) == {1}
    stats = client.stats()
    assert (stats.sent, stats.rejected, stats.dropped) == (200, 0, 0)
    assert stats.retries >= 1


def test_client_honours_retry_after(receiver: Any, make_client: Any) -> None:
    receiver.plan(receiver.status(429, {"Retry-After": "1"}))
    client = make_client(receiver.url)
    started = time.monotonic()
    log_many(client, 3)
    assert client.flush(timeout=4)

    # The backoff cap is 0.05 s here, so only Retry-After explains a wait near a second.
    assert time.monotonic() - started >= 0.9
    assert len(receiver.predictions()) == 3


def test_client_counts_422_as_rejected_without_retry(
    receiver: Any, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.plan(
        lambda batch: receiver.ok(
            Batch(events=[], batch_id=batch.batch_id),
            [
                Rejection(i, f"predictions[0].score[{i}]", "Expected `float` <= 1.0")
                for i in range(len(receiver.rows_of(batch)))
            ],
            status=422,
        )
    )
    client = make_client(receiver.url)
    with caplog.at_level(logging.WARNING, logger="mlpulse.sdk"):
        log_many(client, 4)
        assert client.flush(timeout=4)

    assert len(receiver.requests) == 1
    stats = client.stats()
    assert (stats.sent, stats.rejected, stats.retries) == (0, 4, 0)
    assert "rejected 4 of 4 events" in caplog.text
    assert "predictions[0].score[0]: Expected `float` <= 1.0" in caplog.text


def test_client_drops_a_batch_refused_whole_with_422_without_retry(
    receiver: Any, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A refusal of the whole request (an error document, not an ingest result), as the
    # collector answers a name with a NUL byte or a model beyond its limits: retrying the
    # same body would be refused again, forever.
    receiver.rule = receiver.status(422)
    client = make_client(receiver.url, batch_size=10)
    with caplog.at_level(logging.WARNING, logger="mlpulse.sdk"):
        log_many(client, 20)
        assert client.flush(timeout=4)

    assert len(receiver.requests) == 2  # one per batch, no retry
    stats = client.stats()
    assert (stats.sent, stats.rejected, stats.retries) == (0, 20, 0)
    assert "HTTP 422" in caplog.text


def test_client_counts_partial_rejections_and_warns_with_reasons(
    receiver: Any, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(receiver.url)
    with caplog.at_level(logging.WARNING, logger="mlpulse.sdk"):
        client.log_prediction("fraud", "v3", {"x": 1.0}, score=0.5)
        client.log_prediction("fraud", "v3", {"x": 1.0}, latency_ms=-1.0)
        client.log_prediction("fraud", "v3", {"x": 1.0}, timestamp=1767225600000.0)
        assert client.flush(timeout=4)

    stats = client.stats()
    assert (stats.sent, stats.rejected) == (1, 2)
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "rejected 2 of 3 events" in warning.getMessage()
    assert "predictions[0].latency_ms[1]" in warning.getMessage()
    assert "predictions[0].timestamp[2]" in warning.getMessage()


@pytest.mark.parametrize("code", [400, 401, 403, 404, 415])
def test_client_drops_batches_refused_for_good_and_logs_once(
    receiver: Any, make_client: Any, caplog: pytest.LogCaptureFixture, code: int
) -> None:
    receiver.rule = receiver.status(code)
    client = make_client(receiver.url, batch_size=10)
    with caplog.at_level(logging.ERROR, logger="mlpulse.sdk"):
        log_many(client, 30)
        assert client.flush(timeout=4)

    assert len(receiver.requests) == 3  # one per batch, no retry
    stats = client.stats()
    assert (stats.sent, stats.rejected, stats.retries) == (0, 30, 0)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert f"HTTP {code}" in errors[0].getMessage()


def test_client_splits_a_batch_the_collector_finds_too_large(
    receiver: Any, make_client: Any
) -> None:
    receiver.rule = lambda batch: (
        receiver.status(413)(batch) if len(receiver.rows_of(batch)) > 6 else None
    )
    client = make_client(receiver.url, batch_size=40, flush_interval=60.0)
    request_ids = log_many(client, 40)
    assert client.flush(timeout=4)

    assert [p.request_id for p in receiver.predictions()] == request_ids  # order kept
    assert all(len(receiver.rows_of(r.batch)) <= 6 for r in receiver.accepted())
    batch_ids = list(delivered_batches(receiver))
    assert len(set(batch_ids)) == len(batch_ids)
    assert client.stats().sent == 40


def test_client_drops_a_single_event_too_large_for_the_collector(
    receiver: Any, make_client: Any
) -> None:
    big = "x" * 5000
    receiver.rule = lambda batch: (
        receiver.status(413)(batch)
        if any(p.features.get("blob") == big for p in receiver.rows_of(batch))
        else None
    )
    client = make_client(receiver.url, batch_size=8, flush_interval=60.0)
    for i in range(8):
        client.log_prediction("fraud", "v3", {"blob": big if i == 3 else "small"})
    assert client.flush(timeout=4)

    assert len(receiver.predictions()) == 7
    stats = client.stats()
    assert (stats.sent, stats.rejected) == (7, 1)


def test_client_treats_an_unparsable_200_as_all_accepted(receiver: Any, make_client: Any) -> None:
    receiver.plan(lambda batch: (200, {}, b"OK"))
    client = make_client(receiver.url)
    log_many(client, 5)
    assert client.flush(timeout=4)
    assert client.stats().sent == 5


def test_client_close_tries_once_more_during_a_long_retry_after(
    receiver: Any, make_client: Any
) -> None:
    receiver.plan(receiver.status(503, {"Retry-After": "120"}))
    client = make_client(receiver.url)
    log_many(client, 5)
    deadline = time.monotonic() + 4
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.01)

    started = time.monotonic()
    assert client.close(timeout=3) is True
    assert time.monotonic() - started < 2.0
    assert len(receiver.predictions()) == 5
