"""A generic webhook: Alertmanager's webhook JSON, signed with HMAC-SHA256.

The body is what Alertmanager posts (``version`` "4"), so tools written for it read
ours: ``groupKey`` (the notification's ``dedup_key``), ``truncatedAlerts``, ``status``,
``receiver``, ``groupLabels``, ``commonLabels``, ``commonAnnotations``,
``externalURL`` and ``alerts``, each with ``status``, ``labels``, ``annotations``,
``startsAt``, ``endsAt`` (``0001-01-01T00:00:00Z`` while it fires, as Alertmanager
sends), ``generatorURL`` (the alert's model page in mlpulse, under
``MLPULSE_EXTERNAL_URL``, which is ``externalURL``) and ``fingerprint``.

With a ``secret``, each request carries ``X-Mlpulse-Timestamp`` (epoch seconds) and
``X-Mlpulse-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"``
keyed with the secret. Signing the timestamp with the body stops a captured request
from being replayed later. To verify, a receiver:

1. reads the raw body bytes (before any JSON parsing) and both headers;
2. computes ``hmac.new(secret, f"{timestamp}.".encode() + body, sha256).hexdigest()``;
3. compares ``"sha256=" + digest`` with the header in constant time
   (``hmac.compare_digest``);
4. rejects a timestamp more than a few minutes from its clock.

:func:`verify_signature` does all four.

>>> body = b'{"status":"firing"}'
>>> header = sign("s3cret", "1700000000", body)
>>> verify_signature("s3cret", "1700000000", body, header, now=1700000010)
True
>>> verify_signature("s3cret", "1700000000", body + b" ", header, now=1700000010)
False
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

import httpx

from mlpulse.adapters.clock import SystemClock
from mlpulse.adapters.notify.http import HttpSender, encode_json
from mlpulse.adapters.notify.rate_limit import RateLimiter
from mlpulse.adapters.notify.text import is_resolved, iso8601
from mlpulse.domain.alerts import Alert, DeliveryResult, Notification, alert_page
from mlpulse.ports import Clock

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookNotifier",
    "sign",
    "verify_signature",
    "webhook_body",
]

SIGNATURE_HEADER = "X-Mlpulse-Signature"
TIMESTAMP_HEADER = "X-Mlpulse-Timestamp"
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: Alertmanager's "not ended"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    message = timestamp.encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    max_age: float | None = 300.0,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``body`` at ``timestamp`` with ``secret``, and the
    timestamp is within ``max_age`` seconds of ``now`` (the wall clock by default;
    ``max_age=None`` skips that check)."""
    try:
        sent_at = float(timestamp)
    except ValueError:
        return False
    if max_age is not None:
        current = time.time() if now is None else now
        if abs(current - sent_at) > max_age:
            return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def _alert(alert: Alert, external_url: str) -> dict[str, Any]:
    resolved = is_resolved(alert)
    return {
        "status": "resolved" if resolved else "firing",
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": iso8601(alert.starts_at or alert.active_since),
        "endsAt": iso8601(alert.ends_at) if resolved and alert.ends_at else ZERO_TIME,
        "generatorURL": alert.annotations.get("generator_url")
        or alert_page(external_url, alert.labels),
        "fingerprint": alert.fingerprint,
    }


def webhook_body(notification: Notification, *, max_alerts: int = 0) -> dict[str, Any]:
    """Alertmanager's webhook JSON for ``notification`` (``max_alerts`` 0 = all)."""
    alerts = notification.alerts
    shown = alerts[:max_alerts] if max_alerts > 0 else alerts
    annotations = [alert.annotations for alert in alerts]
    common_annotations = {
        key: value
        for key, value in (annotations[0].items() if annotations else ())
        if all(other.get(key) == value for other in annotations[1:])
    }
    return {
        "version": "4",
        "groupKey": notification.dedup_key,
        "truncatedAlerts": len(alerts) - len(shown),
        "status": notification.status,
        "receiver": notification.receiver,
        "groupLabels": notification.group_labels,
        "commonLabels": notification.common_labels,
        "commonAnnotations": common_annotations,
        "externalURL": notification.external_url,
        "alerts": [_alert(alert, notification.external_url) for alert in shown],
    }


class WebhookNotifier:
    """:class:`mlpulse.ports.Notifier` posting Alertmanager-style JSON to ``url``.

    ``headers`` are added to every request (e.g. ``Authorization``); ``clock`` dates
    the signature.
    """

    kind = "webhook"

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
        max_alerts: int = 0,
        clock: Clock | None = None,
        timeout: float = 10.0,
        rate_limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url
        self._secret = secret
        self._max_alerts = max_alerts
        self._clock = clock or SystemClock()
        self._limiter = rate_limiter
        self._http = HttpSender(
            timeout=timeout, transport=transport, headers=headers, now=self._clock.now
        )

    def send(self, notification: Notification) -> DeliveryResult:
        if notification.action != "notify":
            return DeliveryResult(
                delivered=True, detail="not sent: webhooks get no acknowledgements"
            )
        body = encode_json(webhook_body(notification, max_alerts=self._max_alerts))
        if self._limiter is not None:
            self._limiter.acquire()
        headers = {}
        if self._secret is not None:
            timestamp = str(int(self._clock.now()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, body)
        return self._http.post(self._url, body, headers=headers)

    def close(self) -> None:
        self._http.close()
