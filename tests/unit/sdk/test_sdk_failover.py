"""A client with several collector URLs against stand-ins on 127.0.0.1: batches move to
the next URL at once when one is down or answers 5xx, keep their batch id, and a URL that
failed is not tried again on every batch."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import mlpulse
from mlpulse.errors import ConfigurationError, ParameterError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def other(receiver: Any) -> Iterator[Any]:
    """A second stand-in collector (the conftest's receiver cannot be imported here)."""
    second = type(receiver)(port=free_port())
    second.up()
    yield second
    second.down()


def test_client_sends_to_the_next_url_when_the_first_is_down(
    receiver: Any, make_client: Callable[..., mlpulse.Client]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    client = make_client([dead, receiver.url])
    for i in range(20):
        client.log_prediction("fraud", "v1", {"x": float(i)})
    assert client.flush(timeout=4)
    assert len(receiver.predictions()) == 20
    stats = client.stats()
    assert (stats.sent, stats.retries, stats.dropped) == (20, 0, 0)  # no backoff was needed


def test_client_resends_a_batch_with_its_batch_id_to_the_next_url_after_a_5xx(
    receiver: Any, other: Any, make_client: Callable[..., mlpulse.Client]
) -> None:
    receiver.rule = receiver.status(503)
    client = make_client([receiver.url, other.url])
    client.log_prediction("fraud", "v1", {"x": 1.0})
    assert client.flush(timeout=4)
    (refused,) = receiver.requests
    (taken,) = other.accepted()
    assert refused.status == 503
    assert taken.batch.batch_id == refused.batch.batch_id
    assert taken.body == refused.body  # the very same request body
    assert client.stats().retries == 0


def test_client_does_not_try_a_failing_url_on_every_batch(
    receiver: Any, other: Any, make_client: Callable[..., mlpulse.Client]
) -> None:
    receiver.rule = receiver.status(503)
    client = make_client([receiver.url, other.url])
    for i in range(10):
        client.log_prediction("fraud", "v1", {"x": float(i)})
        assert client.flush(timeout=4)
    assert len(receiver.requests) == 1  # tried once, then remembered as down
    assert len(other.predictions()) == 10


def test_client_moves_on_when_the_url_it_uses_goes_down(
    receiver: Any, other: Any, make_client: Callable[..., mlpulse.Client]
) -> None:
    client = make_client([receiver.url, other.url])
    client.log_prediction("fraud", "v1", {"x": 1.0})
    assert client.flush(timeout=4)
    receiver.down()
    client.log_prediction("fraud", "v1", {"x": 2.0})
    assert client.flush(timeout=4)
    assert [p.features["x"] for p in receiver.predictions()] == [1.0]
    assert [p.features["x"] for p in other.predictions()] == [2.0]


def test_client_backs_off_only_when_every_url_fails_and_delivers_once_one_is_back(
    receiver: Any, other: Any, make_client: Callable[..., mlpulse.Client]
) -> None:
    receiver.down()
    other.down()
    client = make_client([receiver.url, other.url])
    client.log_prediction("fraud", "v1", {"x": 1.0})
    assert not client.flush(timeout=0.3)
    assert client.stats().retries >= 1
    other.up()
    assert client.flush(timeout=4)
    assert len(other.predictions()) == 1


def test_client_logs_a_switch_of_collector_once(
    receiver: Any, other: Any, make_client: Callable[..., mlpulse.Client],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    receiver.rule = receiver.status(503)
    client = make_client([receiver.url, other.url])
    with caplog.at_level(logging.WARNING, logger="mlpulse.sdk"):
        for i in range(5):
            client.log_prediction("fraud", "v1", {"x": float(i)})
            assert client.flush(timeout=4)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("trying the next one" in m for m in messages) == 1
    assert sum(f"now sends to the collector at {other.url}" in m for m in messages) == 1


def test_client_from_env_reads_several_urls(
    receiver: Any, other: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.down()
    monkeypatch.setenv("MLPULSE_URL", f"{receiver.url}, {other.url}")
    monkeypatch.setenv("MLPULSE_API_KEY", "env-key")
    with mlpulse.Client.from_env(flush_interval=0.02) as client:
        assert repr(client) == f"Client({[receiver.url, other.url]!r})"
        client.log_prediction("fraud", "v3", {"x": 1.0})
        assert client.flush(timeout=4)
    assert len(other.predictions()) == 1


def test_client_from_env_names_an_invalid_url_among_several(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLPULSE_URL", "http://a:8000,ftp://b")
    monkeypatch.setenv("MLPULSE_API_KEY", "env-key")
    with pytest.raises(ConfigurationError, match="MLPULSE_URL must be an http"):
        mlpulse.Client.from_env()


@pytest.mark.parametrize("url", [[], ["http://a:8000", "ftp://b"], ["http://a", "http://a"], 7])
def test_client_rejects_bad_url_lists(url: Any) -> None:
    with pytest.raises(ParameterError, match="The 'url' parameter of Client"):
        mlpulse.Client(url, "k")


def test_client_with_one_url_in_a_list_works_as_with_a_str(
    receiver: Any, make_client: Callable[..., mlpulse.Client]
) -> None:
    client = make_client([receiver.url])
    started = time.monotonic()
    client.log_prediction("fraud", "v1", {"x": 1.0})
    assert client.flush(timeout=4)
    assert time.monotonic() - started < 2.0
    assert repr(client) == f"Client({receiver.url!r})"


def test_cli_uses_the_first_of_several_collector_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpulse.cli.api import client

    monkeypatch.setenv("MLPULSE_URL", "http://a:8000, http://b:8000")
    with client(None, "k") as http:
        assert str(http.base_url) == "http://a:8000"
