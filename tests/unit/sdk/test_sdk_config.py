"""Constructor parameters and environment configuration."""

from __future__ import annotations

from typing import Any

import pytest

import mlpulse
from mlpulse.errors import ConfigurationError, ParameterError


def test_client_from_env_reads_url_and_key(receiver: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPULSE_URL", receiver.url)
    monkeypatch.setenv("MLPULSE_API_KEY", "env-key")
    with mlpulse.Client.from_env(flush_interval=0.02, batch_size=5) as client:
        client.log_prediction("fraud", "v3", {"x": 1.0})
        assert client.flush(timeout=4)

    (request,) = receiver.requests
    assert request.headers["Authorization"] == "Bearer env-key"


@pytest.mark.parametrize("variable", ["MLPULSE_URL", "MLPULSE_API_KEY"])
def test_client_from_env_names_the_missing_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv("MLPULSE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("MLPULSE_API_KEY", "k")
    monkeypatch.delenv(variable)
    with pytest.raises(ConfigurationError, match=f"{variable} is not set"):
        mlpulse.Client.from_env()


def test_client_from_env_names_an_empty_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPULSE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("MLPULSE_API_KEY", "  ")
    with pytest.raises(ConfigurationError, match="MLPULSE_API_KEY is empty"):
        mlpulse.Client.from_env()


def test_client_from_env_names_an_invalid_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPULSE_URL", "collector:8000")
    monkeypatch.setenv("MLPULSE_API_KEY", "k")
    with pytest.raises(ConfigurationError, match="MLPULSE_URL must be an http"):
        mlpulse.Client.from_env()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, "'batch_size' parameter of Client must be an int in [1, 100000]"),
        ({"batch_size": 100_001}, "'batch_size'"),
        ({"batch_size": 10.0}, "'batch_size'"),
        ({"batch_size": True}, "'batch_size'"),
        ({"max_buffer": 10, "batch_size": 100}, "'max_buffer' parameter of Client must be"),
        ({"flush_interval": 0}, "'flush_interval' parameter of Client must be a number"),
        ({"flush_interval": float("nan")}, "'flush_interval'"),
        ({"timeout": -1.0}, "'timeout'"),
        ({"compression": "zstd"}, "'compression' parameter of Client must be None or 'gzip'"),
        ({"backoff_base": 1.0, "backoff_cap": 0.5}, "'backoff_cap'"),
        ({"exit_timeout": -1}, "'exit_timeout'"),
    ],
)
def test_client_rejects_bad_parameters(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ParameterError) as raised:
        mlpulse.Client("http://127.0.0.1:1", "k", **options)
    assert message in str(raised.value)
    assert str(raised.value).endswith("instead.")


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://host", "http://", 8000, ""])
def test_client_rejects_bad_urls(url: Any) -> None:
    with pytest.raises(ParameterError, match="'url' parameter of Client"):
        mlpulse.Client(url, "k")


@pytest.mark.parametrize("api_key", ["", "has space", "new\nline", None])
def test_client_rejects_bad_api_keys_without_echoing_them(api_key: Any) -> None:
    with pytest.raises(ParameterError, match="'api_key' parameter of Client") as raised:
        mlpulse.Client("http://127.0.0.1:1", api_key)
    if api_key:
        assert api_key not in str(raised.value)


def test_client_flush_and_close_reject_bad_timeouts(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url)
    with pytest.raises(ParameterError, match=r"'timeout' parameter of Client\.flush"):
        client.flush(timeout=-1)
    with pytest.raises(ParameterError, match=r"'timeout' parameter of Client\.close"):
        client.close(timeout=float("inf"))
