"""PagerDuty through the Events API v2 (``POST {events_url}/v2/enqueue``).

One event per notification. ``event_action`` is ``trigger`` while the group fires,
``acknowledge`` once every firing alert of it has been acknowledged in mlpulse, and
``resolve`` when it has resolved. ``dedup_key`` is the notification's ``dedup_key``
(stable for the group's life), so the resolve closes the incident the trigger opened;
keys over PagerDuty's 255 characters are replaced by their SHA-256 (still stable).

A trigger carries ``payload`` (``summary`` ≤ 1024 characters, the whole event
≤ 512 KB — PagerDuty's limits — with the alerts of ``custom_details`` cut to fit and
counted in ``alerts_not_shown``; a refusal, 400 or 413, is followed by one minimal
event: summary, source, severity, time; ``source``,
``severity`` critical/warning/info — PagerDuty's ``error`` is not used —
``timestamp``, ``component`` = model, ``group`` = model version, ``class`` = rule,
``custom_details`` with the alerts), ``links`` (mlpulse, runbooks), ``client`` and
``client_url``. Acknowledge and resolve events carry only the routing key, action and
dedup key, which is all PagerDuty reads from them.

PagerDuty answers 202 when it has *accepted the event for processing*: nobody has been
paged yet, so the result's detail says so. 400 (an invalid event) is permanent. The
Events API allows about 120 events a minute per routing key and does not always send
``Retry-After`` with its 429, so a 429 without one suggests ``DEFAULT_RETRY_AFTER``
seconds; a client-side bucket (burst 10, then 110 a minute: at most 120 in any minute)
keeps us under the limit.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import httpx
import msgspec

from mlpulse.adapters.notify.http import HttpSender, encode_json
from mlpulse.adapters.notify.rate_limit import RateLimiter
from mlpulse.adapters.notify.text import (
    SIZE_REFUSALS,
    alert_summary,
    firing,
    group_page,
    iso8601,
    model_of,
    more,
    truncate,
)
from mlpulse.domain.alerts import Alert, DeliveryResult, Notification, Severity

__all__ = ["DEFAULT_EVENTS_URL", "PagerDutyNotifier", "pagerduty_event"]

DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
DEFAULT_RETRY_AFTER = 30.0
BURST = 10
RATE_PER_S = (120 - BURST) / 60.0
SUMMARY_CHARS = 1024
DEDUP_KEY_CHARS = 255
MAX_DETAIL_ALERTS = 20
EVENT_BYTES = 512 * 1024  # PagerDuty's limit for one event
LINKS_BYTES = 16 * 1024  # room kept for links and client fields added after the payload
SEVERITY = {Severity.CRITICAL: "critical", Severity.WARNING: "warning", Severity.INFO: "info"}


def event_action(notification: Notification) -> str:
    if notification.status == "resolved":
        return "resolve"
    if notification.action == "acknowledge":
        return "acknowledge"
    active = firing(notification)
    if active and all(alert.acknowledged_at is not None for alert in active):
        return "acknowledge"
    return "trigger"


def dedup_key(notification: Notification) -> str:
    key = notification.dedup_key
    return key if len(key) <= DEDUP_KEY_CHARS else hashlib.sha256(key.encode()).hexdigest()


def _summary(notification: Notification) -> str:
    active = firing(notification)
    text = f"[FIRING:{len(active)}] {notification.title}"
    if len(active) == 1:
        text += f": {alert_summary(active[0])}"
    return truncate(text, SUMMARY_CHARS)


def pagerduty_event(
    notification: Notification,
    *,
    routing_key: str,
    source: str = "mlpulse",
    client: str = "mlpulse",
) -> dict[str, Any]:
    """The Events API v2 body for ``notification``."""
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": event_action(notification),
        "dedup_key": dedup_key(notification),
    }
    if event["event_action"] != "trigger":
        return event
    labels = notification.common_labels
    payload: dict[str, Any] = {
        "summary": _summary(notification),
        "source": source,
        "severity": SEVERITY[notification.severity],
        "timestamp": iso8601(notification.created_at),
    }
    optional = {
        "component": model_of(notification),
        "group": labels.get("version", ""),
        "class": labels.get("alertname", ""),
    }
    payload.update({key: value for key, value in optional.items() if value})
    alerts = [_detail(alert) for alert in notification.alerts[:MAX_DETAIL_ALERTS]]
    details: dict[str, Any] = {
        "receiver": notification.receiver,
        "firing": len(firing(notification)),
        "group_labels": notification.group_labels,
        "common_labels": labels,
        "alerts": alerts,
    }
    hidden = len(notification.alerts) - len(alerts)
    # Whole alerts go until the event fits PagerDuty's 512 KB (long labels and
    # annotations can fill it with far fewer than MAX_DETAIL_ALERTS).
    while True:
        if hidden > 0:
            details["alerts_not_shown"] = more(hidden)
        payload["custom_details"] = details
        event["payload"] = payload
        if len(encode_json(event)) <= EVENT_BYTES - LINKS_BYTES or not alerts:
            break
        alerts.pop()
        hidden += 1
    links = []
    page = group_page(notification)
    if page:
        links.append({"href": page, "text": "Open in mlpulse"})
    runbooks = {
        a.annotations["runbook_url"] for a in notification.alerts if "runbook_url" in a.annotations
    }
    links.extend({"href": url, "text": "Runbook"} for url in sorted(runbooks))
    if links:
        event["links"] = links
    event["client"] = client
    if page:
        event["client_url"] = page
    return event


def _detail(alert: Alert) -> dict[str, Any]:
    return {
        "summary": truncate(alert_summary(alert), SUMMARY_CHARS),
        "state": alert.state.value,
        "labels": alert.labels,
        # JSON has no NaN/inf; PagerDuty would refuse the event (a 400)
        "value": alert.value if math.isfinite(alert.value) else str(alert.value),
        "starts_at": iso8601(alert.starts_at or alert.active_since),
    }


def minimal_event(notification: Notification, *, routing_key: str, source: str) -> dict[str, Any]:
    """Summary, source, severity and time only: sent when PagerDuty refused the full
    event (400 invalid, 413 too large), so the page still goes out."""
    event = pagerduty_event(notification, routing_key=routing_key, source=source)
    if "payload" in event:
        event["payload"] = {
            key: event["payload"][key] for key in ("summary", "source", "severity", "timestamp")
        }
    return {key: event[key] for key in ("routing_key", "event_action", "dedup_key", "payload")
            if key in event}  # fmt: skip


class PagerDutyNotifier:
    """:class:`mlpulse.ports.Notifier` for one PagerDuty Events API v2 integration."""

    kind = "pagerduty"

    def __init__(
        self,
        routing_key: str,
        *,
        events_url: str = DEFAULT_EVENTS_URL,
        source: str = "mlpulse",
        client: str = "mlpulse",
        timeout: float = 10.0,
        rate_limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._routing_key = routing_key
        self._url = events_url.rstrip("/") + "/v2/enqueue"
        self._source = source
        self._client = client
        self._limiter = rate_limiter or RateLimiter(RATE_PER_S, BURST)
        self._http = HttpSender(
            timeout=timeout, transport=transport, default_retry_after=DEFAULT_RETRY_AFTER
        )

    def send(self, notification: Notification) -> DeliveryResult:
        event = pagerduty_event(
            notification, routing_key=self._routing_key, source=self._source, client=self._client
        )
        self._limiter.acquire()
        result = self._http.post(self._url, encode_json(event))
        if result.status_code in SIZE_REFUSALS and "payload" in event:
            minimal = minimal_event(
                notification, routing_key=self._routing_key, source=self._source
            )
            self._limiter.acquire()
            retried = self._http.post(self._url, encode_json(minimal))
            return msgspec.structs.replace(
                retried, detail=f"sent a minimal event after: {result.detail}; {retried.detail}"
            )
        if result.delivered:
            detail = (
                f"accepted for processing ({event['event_action']}), not yet paged: "
                "PagerDuty processes events asynchronously"
            )
            return msgspec.structs.replace(result, detail=detail)
        return result

    def close(self) -> None:
        self._http.close()
