"""HTTP requests for synthetic probes: one place for httpx, timed, never raising."""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx

from mlpulse.domain.probes import ProbeResponse

MAX_BODY_CHARS = 65536  # what a probe's body check reads


class HttpRequester:
    """Sends a probe's request with a total time limit; follows no redirects."""

    def __init__(self) -> None:
        self._client = httpx.Client(follow_redirects=False)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: str | None,
        timeout_s: float,
    ) -> ProbeResponse:
        start = time.perf_counter()
        try:
            response = self._client.request(
                method, url, headers=dict(headers), content=body, timeout=timeout_s
            )
        except httpx.HTTPError as exc:
            return ProbeResponse(None, "", time.perf_counter() - start, type(exc).__name__)
        elapsed = time.perf_counter() - start
        return ProbeResponse(response.status_code, response.text[:MAX_BODY_CHARS], elapsed)

    def close(self) -> None:
        self._client.close()
