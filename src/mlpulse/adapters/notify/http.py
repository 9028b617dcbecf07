"""HTTP for the notifiers: one client each, and every outcome mapped in one place.

A notifier makes one attempt per ``send``; the outbox retries. So nothing here raises
for the service's or the network's errors: :meth:`HttpSender.post` returns a
:class:`~mlpulse.domain.alerts.DeliveryResult`, mapped as follows.

==========================  =========  ==========  ==========================================
outcome                     delivered  permanent   retry_after
==========================  =========  ==========  ==========================================
2xx                         True       False       None
408, 5xx                    False      False       ``Retry-After`` if sent
429                         False      False       ``Retry-After``, else the notifier's default
3xx (redirects not          False      True        None (a moved endpoint needs new settings)
followed), other 4xx
timeout, connection error   False      False       None
bad URL, unknown scheme     False      True        None
==========================  =========  ==========  ==========================================

Details never include the request URL: a Slack webhook URL is itself a secret.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any

import httpx

from mlpulse.domain.alerts import DeliveryResult

__all__ = ["HttpSender", "encode_json", "parse_retry_after", "result_from_response"]

USER_AGENT = "mlpulse-notifier"
_DETAIL_BODY_CHARS = 300


def encode_json(document: Any) -> bytes:
    """Compact UTF-8 JSON, the bytes that are sent (and, for webhooks, signed).

    >>> encode_json({"text": "é", "n": 1})
    b'{"text":"\\xc3\\xa9","n":1}'
    """
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date.

    ``now`` is the wall-clock time (epoch seconds) a date is measured from. A date in
    the past gives 0; a value that parses as neither gives None.

    >>> parse_retry_after("120", now=0.0)
    120.0
    >>> parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", now=30.0)
    30.0
    >>> parse_retry_after("soon", now=0.0) is None
    True
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _body_snippet(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    if len(text) > _DETAIL_BODY_CHARS:
        text = text[: _DETAIL_BODY_CHARS - 1] + "…"
    return text


def result_from_response(
    response: httpx.Response, *, now: float, default_retry_after: float | None = None
) -> DeliveryResult:
    """Map one HTTP response to a :class:`DeliveryResult` (the table above)."""
    code = response.status_code
    snippet = _body_snippet(response)
    if 200 <= code < 300:
        return DeliveryResult(delivered=True, status_code=code, detail=snippet)
    detail = f"HTTP {code} {response.reason_phrase}" + (f": {snippet}" if snippet else "")
    if code == 408 or code == 429 or code >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now=now)
        if retry_after is None and code == 429:
            retry_after = default_retry_after
        return DeliveryResult(
            delivered=False, status_code=code, detail=detail, retry_after=retry_after
        )
    if 300 <= code < 400:
        detail += " (redirects are not followed; update the receiver's URL)"
    return DeliveryResult(delivered=False, status_code=code, detail=detail, permanent=True)


class HttpSender:
    """One ``httpx.Client`` (connection pool, timeouts) for one notifier.

    ``timeout`` bounds each phase (connect, read, write, pool wait) of one request.
    ``transport`` replaces the network (``httpx.MockTransport`` in unit tests).
    ``default_retry_after`` is the hint given on a 429 without ``Retry-After``.
    ``now`` is the wall clock, for ``Retry-After`` dates.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        default_retry_after: float | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            transport=transport,
            follow_redirects=False,
        )
        self._default_retry_after = default_retry_after
        self._now = now

    def post(
        self,
        url: str,
        body: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> DeliveryResult:
        """POST ``body`` (JSON bytes) once; never raises for HTTP or network errors."""
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        try:
            response = self._client.post(url, content=body, headers=all_headers, params=params)
        except httpx.TimeoutException as exc:
            return DeliveryResult(delivered=False, detail=f"timed out ({type(exc).__name__})")
        except httpx.UnsupportedProtocol as exc:
            return DeliveryResult(delivered=False, detail=f"bad URL: {exc}", permanent=True)
        except httpx.RequestError as exc:  # connect/read errors, protocol errors, decoding
            return DeliveryResult(delivered=False, detail=f"{type(exc).__name__}: {exc}")
        except httpx.InvalidURL as exc:
            return DeliveryResult(delivered=False, detail=f"bad URL: {exc}", permanent=True)
        return result_from_response(
            response, now=self._now(), default_retry_after=self._default_retry_after
        )

    def close(self) -> None:
        self._client.close()
