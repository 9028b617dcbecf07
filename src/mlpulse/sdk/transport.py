"""One POST to the collector over httpx: the one place that knows httpx.

httpx errors become a :class:`~mlpulse.sdk.reply.Reply` here (no answer: ``RETRY``,
or ``FATAL`` for a URL httpx cannot use); answers are classified by
:func:`~mlpulse.sdk.reply.classify`. Nothing here raises.

:class:`FailoverTransport` sends a batch to the collectors of an
:class:`~mlpulse.sdk.endpoints.Endpoints` in turn until one settles it. The body is the
same for every URL, batch id included, so replicas that share a store keep the batch
once even when a collector stored it but died before its answer came back.
"""

from __future__ import annotations

import logging
import time
from typing import Final

import httpx

from mlpulse.sdk.endpoints import Endpoints
from mlpulse.sdk.reply import Reply, Verdict, classify
from mlpulse.sdk.wire import Payload

INGEST_PATH: Final = "/v1/ingest"
USER_AGENT: Final = "mlpulse-python/0.1.0"
_LOG = logging.getLogger("mlpulse.sdk")


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


class FailoverTransport:
    """:class:`Transport` over several collectors: the next one on no answer or a retry.

    A ``RETRY`` reply (no connection, a timeout, 408/425/429, a 5xx) marks the URL down
    and sends the same payload to the next candidate at once; any other reply settles the
    batch. Only when every URL fails does the shipper see ``RETRY`` (and back off).
    """

    def __init__(self, endpoints: Endpoints, api_key: str, *, timeout: float) -> None:
        self._endpoints = endpoints
        # Made now, on the thread that makes the client: setting up TLS takes tens of ms,
        # which the shipping thread must not spend while serving threads fill its buffer.
        self._transports = {
            url: HttpTransport(url, api_key, timeout=timeout) for url in endpoints.urls
        }

    def send(self, payload: Payload, *, timeout: float | None = None) -> Reply:
        deadline = None if timeout is None else time.monotonic() + timeout
        candidates = self._endpoints.candidates()
        reply: Reply | None = None
        for url in candidates:
            left = None if deadline is None else deadline - time.monotonic()
            if reply is not None and left is not None and left <= 0:
                break  # stopping, and the time is up: the shipper gives up or tries again
            reply = self._transports[url].send(payload, timeout=left)
            if reply.verdict is not Verdict.RETRY:
                if url != self._endpoints.current:
                    _LOG.warning("mlpulse now sends to the collector at %s", url)
                self._endpoints.succeeded(url)
                return reply
            if len(candidates) > 1 and not self._endpoints.is_down(url):
                _LOG.warning(
                    "mlpulse collector at %s unavailable (%s); trying the next one",
                    url,
                    reply.detail,
                )
            self._endpoints.failed(url)
        assert reply is not None  # Endpoints holds at least one URL
        return reply

    def close(self) -> None:
        for transport in self._transports.values():
            transport.close()
