"""JSON POSTs for runbook webhooks (retraining jobs, orchestrators): one place for httpx."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class HttpPoster:
    """POSTs JSON; never raises for the network's or the server's errors."""

    def __init__(self, *, timeout: float = 10.0, headers: Mapping[str, str] | None = None) -> None:
        self._client = httpx.Client(timeout=timeout, headers=dict(headers or {}))

    def post(self, url: str, body: Mapping[str, Any]) -> tuple[int | None, str]:
        try:
            response = self._client.post(url, json=dict(body))
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        return response.status_code, response.text[:200]

    def close(self) -> None:
        self._client.close()
