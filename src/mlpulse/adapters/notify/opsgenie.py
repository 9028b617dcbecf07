"""Opsgenie through its Alert API (kept thin: Atlassian shuts Opsgenie down in April 2027).

Firing: ``POST {api_url}/v2/alerts`` with ``message`` (≤ 130 characters), ``alias`` (the
notification's ``dedup_key``, ≤ 512, so repeats update one alert), ``description``
(≤ 15,000, alert lines then "…and N more alerts"), ``details`` (≤ 8,000 characters of
keys and values in all, Opsgenie's documented limits; a refusal as too large, 400 or
413, is followed by one minimal alert: message, alias, priority, source),
``priority`` (critical → P1, warning → P3, info → P5), ``tags``, ``details``
(string → string), ``source`` and ``entity`` (the model). Resolved:
``POST {api_url}/v2/alerts/{alias}/close?identifierType=alias``. Both authenticate with
``Authorization: GenieKey <api_key>``. Acknowledged in mlpulse:
``POST {api_url}/v2/alerts/{alias}/acknowledge?identifierType=alias`` with the user.
Opsgenie answers 202: the request was accepted
and is processed asynchronously.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from mlpulse.adapters.notify.http import HttpSender, encode_json
from mlpulse.adapters.notify.rate_limit import RateLimiter
from mlpulse.adapters.notify.text import (
    SIZE_REFUSALS,
    alert_summary,
    firing,
    group_page,
    model_of,
    more,
    status_line,
    truncate,
)
from mlpulse.domain.alerts import DeliveryResult, Notification, Severity

__all__ = ["DEFAULT_API_URL", "OpsgenieNotifier", "opsgenie_alert"]

DEFAULT_API_URL = "https://api.opsgenie.com"  # EU accounts: https://api.eu.opsgenie.com
PRIORITY = {Severity.CRITICAL: "P1", Severity.WARNING: "P3", Severity.INFO: "P5"}
MESSAGE_CHARS = 130
ALIAS_CHARS = 512
DESCRIPTION_CHARS = 15000
MAX_TAGS = 20
TAG_CHARS = 50
SOURCE_CHARS = 100
USER_CHARS = 100
DETAILS_CHARS = 8000  # keys and values of details, in all
DETAIL_KEY_CHARS = 128
DETAIL_VALUE_CHARS = 1000  # one long label must not crowd out the rest


def alias(notification: Notification) -> str:
    key = notification.dedup_key
    return key if len(key) <= ALIAS_CHARS else hashlib.sha256(key.encode()).hexdigest()


def opsgenie_alert(
    notification: Notification, *, tags: tuple[str, ...] = (), source: str = "mlpulse"
) -> dict[str, Any]:
    """The create-alert body for a firing ``notification``."""
    lines = [f"- {alert_summary(alert)}" for alert in firing(notification)]
    page = group_page(notification)
    if page:
        lines.append(f"\n{page}")
    all_tags = [*tags, notification.severity.value, *notification.group_labels.values()]
    unique_tags = [truncate(tag, TAG_CHARS) for tag in dict.fromkeys(all_tags) if tag]
    details = {"receiver": notification.receiver, **notification.common_labels}
    if page:
        details["url"] = page
    body: dict[str, Any] = {
        "message": truncate(status_line(notification), MESSAGE_CHARS),
        "alias": alias(notification),
        "description": _description(lines),
        "priority": PRIORITY[notification.severity],
        "tags": unique_tags[:MAX_TAGS],
        "details": _details(details),
        "source": truncate(source, SOURCE_CHARS),
    }
    entity = model_of(notification)
    if entity:
        body["entity"] = truncate(entity, ALIAS_CHARS)
    return body


def _description(lines: list[str]) -> str:
    """The alert lines that fit in ``DESCRIPTION_CHARS``, then "…and N more alerts"."""
    kept: list[str] = []
    room = DESCRIPTION_CHARS - len(more(len(lines))) - 1
    for i, line in enumerate(lines):
        line = truncate(line, DETAIL_VALUE_CHARS)
        if len(line) + 1 > room:
            kept.append(more(len(lines) - i))
            break
        kept.append(line)
        room -= len(line) + 1
    return "\n".join(kept)


def _details(details: dict[str, str]) -> dict[str, str]:
    """``details`` within Opsgenie's 8,000 characters (keys and values): each value cut
    to ``DETAIL_VALUE_CHARS``, then whole entries dropped, counted in ``truncated``."""
    kept: dict[str, str] = {}
    room = DETAILS_CHARS - len("truncated") - len(more(len(details), "detail"))
    for i, (key, value) in enumerate(details.items()):
        key, value = truncate(key, DETAIL_KEY_CHARS), truncate(value, DETAIL_VALUE_CHARS)
        if len(key) + len(value) > room:
            kept["truncated"] = more(len(details) - i, "detail")
            break
        kept[key] = value
        room -= len(key) + len(value)
    return kept


def minimal_alert(notification: Notification, *, source: str = "mlpulse") -> dict[str, Any]:
    """Message, alias, priority and source only: sent when Opsgenie refused the full
    alert as malformed or too large."""
    return {
        "message": truncate(status_line(notification), MESSAGE_CHARS),
        "alias": alias(notification),
        "priority": PRIORITY[notification.severity],
        "source": truncate(source, SOURCE_CHARS),
    }


def acknowledgement(notification: Notification, *, source: str = "mlpulse") -> dict[str, str]:
    """The acknowledge-alert body: who acknowledged it in mlpulse."""
    by = next((a.acknowledged_by for a in notification.alerts if a.acknowledged_by), "")
    body = {"source": truncate(source, SOURCE_CHARS), "note": "Acknowledged in mlpulse"}
    if by:
        body["user"] = truncate(by, USER_CHARS)
        body["note"] += f" by {by}"
    return body


class OpsgenieNotifier:
    """:class:`mlpulse.ports.Notifier` for one Opsgenie API integration key."""

    kind = "opsgenie"

    def __init__(
        self,
        api_key: str,
        *,
        api_url: str = DEFAULT_API_URL,
        tags: tuple[str, ...] = (),
        source: str = "mlpulse",
        timeout: float = 10.0,
        rate_limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._tags = tags
        self._source = source
        self._limiter = rate_limiter
        self._http = HttpSender(
            timeout=timeout, transport=transport, headers={"Authorization": f"GenieKey {api_key}"}
        )

    def send(self, notification: Notification) -> DeliveryResult:
        if self._limiter is not None:
            self._limiter.acquire()
        where = f"{self._api_url}/v2/alerts/{quote(alias(notification), safe='')}"
        if notification.status == "resolved":
            body = {"source": self._source, "note": f"Resolved in mlpulse: {notification.title}"}
            return self._http.post(
                f"{where}/close", encode_json(body), params={"identifierType": "alias"}
            )
        if notification.action == "acknowledge":
            return self._http.post(
                f"{where}/acknowledge",
                encode_json(acknowledgement(notification, source=self._source)),
                params={"identifierType": "alias"},
            )
        alert = opsgenie_alert(notification, tags=self._tags, source=self._source)
        result = self._http.post(f"{self._api_url}/v2/alerts", encode_json(alert))
        if result.status_code not in SIZE_REFUSALS:
            return result
        minimal = minimal_alert(notification, source=self._source)
        retried = self._http.post(f"{self._api_url}/v2/alerts", encode_json(minimal))
        return msgspec.structs.replace(
            retried, detail=f"sent a minimal alert after: {result.detail}; {retried.detail}"
        )

    def close(self) -> None:
        self._http.close()
