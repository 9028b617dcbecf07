"""Opsgenie through its Alert API (kept thin: Atlassian shuts Opsgenie down in April 2027).

Firing: ``POST {api_url}/v2/alerts`` with ``message`` (≤ 130 characters), ``alias`` (the
notification's ``dedup_key``, ≤ 512, so repeats update one alert), ``description``,
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

from mlpulse.adapters.notify.http import HttpSender, encode_json
from mlpulse.adapters.notify.rate_limit import RateLimiter
from mlpulse.adapters.notify.text import alert_summary, firing, model_of, status_line, truncate
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


def alias(notification: Notification) -> str:
    key = notification.dedup_key
    return key if len(key) <= ALIAS_CHARS else hashlib.sha256(key.encode()).hexdigest()


def opsgenie_alert(
    notification: Notification, *, tags: tuple[str, ...] = (), source: str = "mlpulse"
) -> dict[str, Any]:
    """The create-alert body for a firing ``notification``."""
    lines = [f"- {alert_summary(alert)}" for alert in firing(notification)]
    if notification.external_url:
        lines.append(f"\n{notification.external_url}")
    all_tags = [*tags, notification.severity.value, *notification.group_labels.values()]
    unique_tags = [truncate(tag, TAG_CHARS) for tag in dict.fromkeys(all_tags) if tag]
    body: dict[str, Any] = {
        "message": truncate(status_line(notification), MESSAGE_CHARS),
        "alias": alias(notification),
        "description": truncate("\n".join(lines), DESCRIPTION_CHARS),
        "priority": PRIORITY[notification.severity],
        "tags": unique_tags[:MAX_TAGS],
        "details": {**notification.common_labels, "receiver": notification.receiver},
        "source": truncate(source, SOURCE_CHARS),
    }
    entity = model_of(notification)
    if entity:
        body["entity"] = truncate(entity, ALIAS_CHARS)
    return body


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
        return self._http.post(f"{self._api_url}/v2/alerts", encode_json(alert))

    def close(self) -> None:
        self._http.close()
