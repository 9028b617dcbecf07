"""Leader requests reach the leader from any replica; everything else stays local."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request

from mlpulse.server.leader_forwarding import FORWARDED_HEADER, LeaderForwarding


def _app(name: str) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/alerts/{fingerprint}/ack")
    async def ack(fingerprint: str, request: Request) -> dict[str, str]:
        return {
            "by": name,
            "fingerprint": fingerprint,
            "key": request.headers.get("authorization", ""),
            "body": (await request.body()).decode(),
            "query": request.url.query,
        }

    @app.get("/v1/registry/{model}/routing")
    async def routing(model: str) -> dict[str, str]:
        return {"by": name}

    @app.post("/v1/registry/{model}/promote", status_code=201)
    async def promote(model: str) -> dict[str, str]:
        return {"by": name}

    @app.post("/v1/ingest")
    async def ingest() -> dict[str, str]:
        return {"by": name}

    return app


def _follower(leader_url: str | None) -> httpx.AsyncClient:
    to_leader = httpx.AsyncClient(transport=httpx.ASGITransport(app=_app("leader")))
    follower = LeaderForwarding(
        _app("follower"), is_leader=lambda: False, leader_url=lambda: leader_url, client=to_leader
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=follower), base_url="http://f")


@pytest.mark.anyio
async def test_leader_forwarding_sends_alert_actions_to_the_leader_with_key_and_body() -> None:
    async with _follower("http://leader") as client:
        answer = await client.post(
            "/v1/alerts/abc/ack?x=1", content=b"hello", headers={"authorization": "Bearer k"}
        )
    assert answer.status_code == 200
    assert answer.json() == {
        "by": "leader", "fingerprint": "abc", "key": "Bearer k", "body": "hello", "query": "x=1",
    }  # fmt: skip


@pytest.mark.anyio
async def test_leader_forwarding_keeps_ingest_and_routing_reads_local_but_forwards_registry_writes(
) -> None:  # fmt: skip
    async with _follower("http://leader") as client:
        assert (await client.post("/v1/ingest")).json() == {"by": "follower"}
        assert (await client.get("/v1/registry/m/routing")).json() == {"by": "follower"}
        promoted = await client.post("/v1/registry/m/promote")
    assert promoted.status_code == 201
    assert promoted.json() == {"by": "leader"}


@pytest.mark.anyio
async def test_leader_forwarding_answers_503_with_retry_after_while_no_leader_is_known() -> None:
    async with _follower(None) as client:
        answer = await client.post("/v1/alerts/abc/ack")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert "no leader" in answer.json()["detail"]


@pytest.mark.anyio
async def test_leader_forwarding_never_forwards_a_forwarded_request_again() -> None:
    async with _follower("http://leader") as client:
        answer = await client.post("/v1/alerts/abc/ack", headers={FORWARDED_HEADER: "1"})
    assert answer.status_code == 503
