"""Requests about what only the leader holds go to the leader, from any replica.

Alert states, incidents and their approvals, rollouts, bandits, experiments' early
stopping and the evaluator live in the leader's memory between ticks, and the leader
alone writes them: one writer, no lost updates. A replica that is not the leader
passes such a request on to the leader (as HashiCorp Vault's standbys do) and returns
its answer, so a client or load balancer may send anything anywhere. Reads of those
resources go too: the leader's view is the current one.

Routing-table long-polls are not forwarded: every replica serves them from the
database and is woken by the change feed. Ingest, keys, models and references are
not leader state either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("mlpulse.cluster")

# Leader state: every method.
LEADER_PREFIXES: Final = (
    "/v1/alerts",
    "/v1/silences",
    "/v1/alertmanager/",
    "/v1/outbox",
    "/v1/incidents",
    "/v1/rollouts",
    "/v1/bandits",
    "/v1/experiments",
    "/v1/evaluator/",
    # The dashboard's pages and actions on alerts and incidents.
    "/alerts",
    "/ui/partials/alerts",
    "/incidents",
)
# Changed by the leader's jobs too (rollouts, bandits, runbooks): writes go to the leader.
LEADER_WRITE_PREFIXES: Final = ("/v1/registry/", "/v1/config")
FORWARDED_HEADER: Final = "x-mlpulse-forwarded"
_HOP_BY_HOP: Final = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}
)


def is_leader_request(method: str, path: str) -> bool:
    """Whether ``method path`` is about state only the leader holds.

    >>> is_leader_request("POST", "/v1/alerts/abc/ack"), is_leader_request("GET", "/v1/registry/m")
    (True, False)
    """
    if path.startswith(LEADER_PREFIXES):
        return True
    return method not in ("GET", "HEAD") and path.startswith(LEADER_WRITE_PREFIXES)


class LeaderForwarding:
    """ASGI middleware: forwards leader requests while this replica is not the leader."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        is_leader: Callable[[], bool],
        leader_url: Callable[[], str | None],
        timeout_s: float = 30.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.app = app
        self._is_leader = is_leader
        self._leader_url = leader_url
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not is_leader_request(scope["method"], scope["path"])
            or self._is_leader()
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if headers.get(FORWARDED_HEADER):
            # The leader we forwarded to thinks it is not the leader (it just lost it):
            # answer it ourselves rather than bounce the request between replicas.
            await _unavailable(send, "leadership is changing; retry shortly")
            return
        target = self._leader_url()
        if not target:
            await _unavailable(send, "no leader is elected yet; retry shortly")
            return
        body = await _read_body(receive)
        query = scope.get("query_string", b"").decode("latin-1")
        url = target.rstrip("/") + scope["path"] + (f"?{query}" if query else "")
        forwarded = {k: v for k, v in headers.items() if k not in _HOP_BY_HOP}
        forwarded[FORWARDED_HEADER] = "1"
        try:
            answer = await self._client.request(
                scope["method"], url, content=body, headers=forwarded
            )
        except httpx.HTTPError as exc:
            log.warning("forwarding %s %s to the leader failed: %s", scope["method"], url, exc)
            await _unavailable(send, "the leader did not answer; retry shortly")
            return
        await send(
            {
                "type": "http.response.start",
                "status": answer.status_code,
                "headers": [
                    (k.encode("latin-1"), v.encode("latin-1"))
                    for k, v in answer.headers.multi_items()
                    if k.lower() not in _HOP_BY_HOP and k.lower() != "content-encoding"
                ]
                + [(b"content-length", str(len(answer.content)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": answer.content})

    async def aclose(self) -> None:
        await self._client.aclose()


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _unavailable(send: Send, detail: str) -> None:
    body = ('{"detail": "' + detail + '"}').encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"retry-after", b"1"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
