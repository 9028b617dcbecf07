"""One POST to the collector over httpx: the one place that knows httpx.

httpx errors become a :class:`~mlpulse.sdk.reply.Reply` here (no answer: ``RETRY``,
or ``FATAL`` for a URL httpx cannot use); answers are classified by
:func:`~mlpulse.sdk.reply.classify`. Nothing here raises.
"""

from __future__ import annotations

from typing import Final

import httpx

from mlpulse.sdk.reply import Reply, Verdict, classify
from mlpulse.sdk.wire import Payload

INGEST_PATH: Final = "/v1/ingest"
USER_AGENT: Final = "mlpulse-python/0.1.0"


class HttpTransport:
    """:class:`Transport` over httpx, keeping one connection to the collector alive."""

    def __init__(self, url: str, api_key: str, *, timeout: float) -> None:
        self._url = url.rstrip("/") + INGEST_PATH
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/msgpack",
            "User-Agent": USER_AGENT,
        }
        self._seconds = timeout
        # The bare transport rather than httpx.Client: the client logs every request at
        # INFO, which would put a line per batch into the serving app's logs.
        self._http = httpx.HTTPTransport(retries=0)

    def send(self, payload: Payload, *, timeout: float | None = None) -> Reply:
        seconds = self._seconds if timeout is None else min(timeout, self._seconds)
        headers = dict(self._headers)
        if payload.content_encoding is not None:
            headers["Content-Encoding"] = payload.content_encoding
        try:
            request = httpx.Request(
                "POST",
                self._url,
                headers=headers,
                content=payload.body,
                extensions={"timeout": httpx.Timeout(seconds).as_dict()},
            )
            response = self._http.handle_request(request)
            try:
                body = response.read()
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            return Reply(Verdict.RETRY, None, f"timed out ({type(exc).__name__})")
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return Reply(Verdict.FATAL, None, f"bad collector URL: {exc}")
        except httpx.HTTPError as exc:
            return Reply(Verdict.RETRY, None, f"{type(exc).__name__}: {exc}")
        return classify(response.status_code, body, response.headers.get("Retry-After"))

    def close(self) -> None:
        self._http.close()
