"""While the collector is down: bounded memory, counted drops, delivery once it is back."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest


def test_client_drops_new_events_when_the_buffer_is_full_and_stays_bounded(
    receiver: Any, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.down()
    client = make_client(receiver.url, batch_size=10, max_buffer=100)
    largest = 0
    with caplog.at_level(logging.WARNING, logger="mlpulse.sdk"):
        for i in range(1000):
            client.log_prediction("fraud", "v3", {"x": float(i)})
            stats = client.stats()
            largest = max(largest, stats.buffered)
            assert stats.in_flight <= 10
            assert len(client._buffer) <= 100  # the bound itself, not only the stats
        deadline = time.monotonic() + 4
        while client.stats().retries == 0 and time.monotonic() < deadline:
            time.sleep(0.01)

    stats = client.stats()
    assert largest <= 100
    assert stats.logged == 1000
    assert stats.buffered + stats.in_flight <= 110
    assert stats.dropped == 1000 - stats.buffered - stats.in_flight
    assert stats.sent == 0
    assert "collector unavailable" in caplog.text
    assert "buffer is full (100)" in caplog.text


def test_client_delivers_what_it_buffered_once_the_collector_is_back(
    receiver: Any, make_client: Any
) -> None:
    receiver.down()
    client = make_client(receiver.url, batch_size=20, max_buffer=1000)
    request_ids = [client.log_prediction("fraud", "v3", {"x": float(i)}) for i in range(150)]
    time.sleep(0.2)
    assert client.stats().retries >= 1
    assert client.flush(timeout=0.1) is False

    receiver.up()
    assert client.flush(timeout=4)

    assert sorted(p.request_id for p in receiver.predictions()) == sorted(request_ids)
    stats = client.stats()
    assert (stats.sent, stats.dropped, stats.buffered, stats.in_flight) == (150, 0, 0, 0)


def test_client_calls_stay_cheap_while_the_collector_is_down(
    receiver: Any, make_client: Any
) -> None:
    receiver.down()
    client = make_client(receiver.url, max_buffer=1000)
    started = time.perf_counter()
    for i in range(20_000):
        client.log_prediction("fraud", "v3", {"x": float(i)})
    # Generous: the point is that nothing waits on the network (bench/ measures speed).
    assert time.perf_counter() - started < 2.0


def test_client_close_gives_up_at_its_timeout_and_counts_the_rest_as_dropped(
    receiver: Any, make_client: Any
) -> None:
    receiver.down()
    client = make_client(receiver.url, batch_size=10)
    for i in range(35):
        client.log_prediction("fraud", "v3", {"x": float(i)})

    started = time.monotonic()
    assert client.close(timeout=0.3) is False
    assert time.monotonic() - started < 2.0
    stats = client.stats()
    assert (stats.sent, stats.dropped, stats.buffered, stats.in_flight) == (0, 35, 0, 0)


def test_client_logging_from_many_threads_counts_every_event(
    receiver: Any, make_client: Any
) -> None:
    receiver.down()
    client = make_client(receiver.url, batch_size=100, max_buffer=500)

    def work() -> None:
        for i in range(2000):
            client.log_prediction("fraud", "v3", {"x": float(i)})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stats = client.stats()
    assert stats.logged == 8000
    assert stats.dropped + stats.buffered + stats.in_flight == 8000
    receiver.up()
    assert client.flush(timeout=4)
    assert client.stats().sent == len(receiver.predictions()) == 8000 - stats.dropped


def test_client_close_returns_at_its_timeout_while_a_request_hangs(
    receiver: Any, make_client: Any
) -> None:
    receiver.plan(lambda batch: time.sleep(2.0))  # answers (200) only after 2 s
    client = make_client(receiver.url)
    client.log_prediction("fraud", "v3", {"x": 1.0})
    deadline = time.monotonic() + 4
    while client.stats().in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)

    started = time.monotonic()
    assert client.close(timeout=0.3) is False
    assert time.monotonic() - started < 1.5
