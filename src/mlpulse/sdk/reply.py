"""What an answer of the collector means for the batch that was sent.

=================================  ===================  =================================
answer                             verdict              the shipper then
=================================  ===================  =================================
2xx                                ``ACCEPTED``         counts accepted and rejected events
422                                ``REJECTED``         counts all as rejected, no retry
413                                ``TOO_LARGE``        sends each half of the batch
408, 425, 429, 5xx, network error  ``RETRY``            sends the same body again later
any other status, bad URL scheme   ``FATAL``            drops the batch, logs the status once
=================================  ===================  =================================

Pure: the HTTP client itself (and its errors) is in :mod:`mlpulse.sdk.transport`.
"""

from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Final, Protocol

import msgspec

from mlpulse.domain.ingest import IngestResult
from mlpulse.sdk.wire import Payload

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

    def send(self, payload: Payload, *, timeout: float | None = None) -> Reply:
        """POST one payload and classify the answer, within ``timeout`` s if given."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


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
