"""One POST to the collector, and what its answer means for the batch.

This is the one place that knows HTTP: httpx errors and status codes become a
:class:`Verdict` here, and the shipper decides what to do from the verdict alone.

=================================  ===================  =================================
answer                             verdict              the shipper then
=================================  ===================  =================================
2xx                                ``ACCEPTED``         counts accepted and rejected events
422                                ``REJECTED``         counts all as rejected, no retry
413                                ``TOO_LARGE``        sends each half of the batch
408, 425, 429, 5xx, network error  ``RETRY``            sends the same body again later
any other status, bad URL scheme   ``FATAL``            drops the batch, logs the status once
=================================  ===================  =================================
"""

from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Final, Protocol

import httpx
import msgspec

from mlpulse.domain.ingest import IngestResult
from mlpulse.sdk.wire import Payload

INGEST_PATH: Final = "/v1/ingest"
USER_AGENT: Final = "mlpulse-python/0.1.0"
_RETRYABLE_STATUSES: Final = frozenset({408, 425, 429})
_DETAIL_LENGTH: Final = 300


class Verdict(enum.Enum):
    """What a reply means for the batch that was sent."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TOO_LARGE = "too_large"
    RETRY = "retry"
    FATAL = "fatal"


@dataclass(frozen=True, slots=True)
class Reply:
    """The collector's answer to one batch, or the network's failure to bring it."""

    verdict: Verdict
    status: int | None
    """HTTP status; None when no answer came (connection refused, timeout...)."""
    detail: str
    """A short description for logs."""
    result: IngestResult | None = None
    """The parsed body of a 2xx or 422 answer, when it parses."""
    retry_after: float | None = None
    """Seconds the collector asked us to wait (``Retry-After``), if it did."""


class Transport(Protocol):
    """Sends payloads; never raises for anything the network or the collector does."""

    def send(self, payload: Payload) -> Reply:
        """POST one payload and classify the answer."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class HttpTransport:
    """:class:`Transport` over httpx, keeping one connection to the collector alive."""

    def __init__(self, url: str, api_key: str, *, timeout: float) -> None:
        self._url = url.rstrip("/") + INGEST_PATH
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/msgpack",
            "User-Agent": USER_AGENT,
        }
        self._timeout = httpx.Timeout(timeout).as_dict()
        # The bare transport rather than httpx.Client: the client logs every request at
        # INFO, which would put a line per batch into the serving app's logs.
        self._http = httpx.HTTPTransport(retries=0)

    def send(self, payload: Payload) -> Reply:
        headers = dict(self._headers)
        if payload.content_encoding is not None:
            headers["Content-Encoding"] = payload.content_encoding
        try:
            request = httpx.Request(
                "POST",
                self._url,
                headers=headers,
                content=payload.body,
                extensions={"timeout": self._timeout},
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


def classify(status: int, body: bytes, retry_after: str | None) -> Reply:
    """The verdict for an HTTP answer (see the module table)."""
    detail = f"HTTP {status}: {body[:_DETAIL_LENGTH].decode('utf-8', 'replace')}"
    if 200 <= status < 300:
        return Reply(Verdict.ACCEPTED, status, detail, result=_ingest_result(body))
    if status == 422:
        return Reply(Verdict.REJECTED, status, detail, result=_ingest_result(body))
    if status == 413:
        return Reply(Verdict.TOO_LARGE, status, detail)
    if status in _RETRYABLE_STATUSES or status >= 500:
        return Reply(Verdict.RETRY, status, detail, retry_after=parse_retry_after(retry_after))
    return Reply(Verdict.FATAL, status, detail)


def _ingest_result(body: bytes) -> IngestResult | None:
    try:
        return msgspec.json.decode(body, type=IngestResult)
    except msgspec.DecodeError:
        return None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date).

    >>> parse_retry_after("2")
    2.0
    >>> parse_retry_after("soon") is None
    True
    """
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
