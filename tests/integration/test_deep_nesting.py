"""Bodies nested far past the limit, at every intake of a real collector process:
each is answered 400 naming the limit (msgspec alone raises RecursionError there,
which used to be a 500)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from mlpulse.server.nesting import MAX_DEPTH

if TYPE_CHECKING:
    from tests.conftest import RunningCollector

DEPTHS = [MAX_DEPTH + 1, 1_000, 100_000]


def _json(n: int) -> bytes:
    return b'{"events": [' + b"[" * n + b"]" * n + b"]}"


def _msgpack(n: int) -> bytes:
    # {"events": [[[...]]]}: a one-entry map, a one-item array, then n nested arrays.
    return b"\x81\xa6events\x91" + b"\x91" * n + b"\xc0"


def _assert_refused(answer: httpx.Response) -> None:
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "malformed_body"
    assert f"limit of {MAX_DEPTH} levels" in error["message"]


@pytest.mark.parametrize("n", DEPTHS)
@pytest.mark.parametrize(
    ("media", "body"), [("application/json", _json), ("application/msgpack", _msgpack)]
)
def test_ingest_refuses_deep_nesting_with_400(
    shared_collector: RunningCollector, media: str, body: type, n: int
) -> None:
    answer = httpx.post(
        f"{shared_collector.url}/v1/ingest",
        content=body(n),
        headers={**shared_collector.headers(shared_collector.ingest_key), "Content-Type": media},
    )
    _assert_refused(answer)


@pytest.mark.parametrize("n", DEPTHS)
def test_alertmanager_intake_refuses_deep_nesting_with_400(
    shared_collector: RunningCollector, n: int
) -> None:
    admin = shared_collector.headers(shared_collector.admin_key)
    made = httpx.post(
        f"{shared_collector.url}/v1/keys", json={"scopes": ["alertmanager"]}, headers=admin
    )
    assert made.status_code == 201, made.text
    answer = httpx.post(
        f"{shared_collector.url}/v1/alertmanager/webhook",
        content=b'{"alerts": ' + b"[" * n + b"]" * n + b"}",
        headers={
            **shared_collector.headers(made.json()["token"]),
            "Content-Type": "application/json",
        },
    )
    _assert_refused(answer)


@pytest.mark.parametrize("n", DEPTHS)
def test_config_put_refuses_deep_nesting_with_400(
    shared_collector: RunningCollector, n: int
) -> None:
    answer = httpx.put(
        f"{shared_collector.url}/v1/config",
        content=b'{"version": 1, "models": ' + b"[" * n + b"]" * n + b"}",
        headers={
            **shared_collector.headers(shared_collector.admin_key),
            "Content-Type": "application/json",
        },
    )
    _assert_refused(answer)


def test_ingest_accepts_a_batch_after_a_refused_deep_one(
    shared_collector: RunningCollector,
) -> None:
    ingest = shared_collector.headers(shared_collector.ingest_key)
    refused = httpx.post(
        f"{shared_collector.url}/v1/ingest", content=_json(100_000),
        headers={**ingest, "Content-Type": "application/json"},
    )  # fmt: skip
    _assert_refused(refused)
    event = {"kind": "prediction", "model": "deep-after", "version": "v1", "request_id": "r1"}
    accepted = httpx.post(
        f"{shared_collector.url}/v1/ingest", json={"events": [event]}, headers=ingest
    )
    assert accepted.status_code in (200, 202), accepted.text
