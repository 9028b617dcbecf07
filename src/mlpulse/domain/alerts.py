"""Alerts and the notifications that carry them to people.

An *alert* is one rule firing for one label set; its fingerprint is the rule name and
the labels (sorted), so the same condition on the same series is always the same
alert. It goes ``pending`` (the condition holds, not yet for the rule's ``for``) →
``firing`` → ``resolved``. A *notification* is what a receiver gets: one group of
alerts (Alertmanager semantics: the alerts sharing the route's ``group_by`` labels),
with a ``dedup_key`` that stays the same for the group's whole life, so a receiver can
update or close what it opened (PagerDuty ``dedup_key``, Opsgenie ``alias``).
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from urllib.parse import quote

import msgspec

__all__ = [
    "Alert",
    "AlertState",
    "DeliveryResult",
    "GroupState",
    "Notification",
    "OutboxDepth",
    "OutboxEntry",
    "Severity",
    "Silence",
    "alert_page",
    "fingerprint",
]


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 info, 1 warning, 2 critical: for "at least" comparisons."""
        return ("info", "warning", "critical").index(self.value)


class AlertState(enum.StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


def fingerprint(rule: str, labels: Mapping[str, str]) -> str:
    """The alert's identity: a hash of the rule name and the sorted labels.

    >>> fingerprint("drift", {"model": "fraud", "column": "amount"}) == fingerprint(
    ...     "drift", {"column": "amount", "model": "fraud"})
    True
    >>> len(fingerprint("drift", {}))
    16
    """
    text = json.dumps([rule, sorted(labels.items())], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def alert_page(external_url: str, labels: Mapping[str, str]) -> str:
    """The dashboard page for alerts with ``labels``, under mlpulse's external URL: the
    model's page when they name a model, else the alerts page ("" without a URL).

    >>> alert_page("https://mlpulse.example.com/", {"model": "fraud detector"})
    'https://mlpulse.example.com/models/fraud%20detector'
    >>> alert_page("https://mlpulse.example.com", {})
    'https://mlpulse.example.com/alerts'
    >>> alert_page("", {"model": "fraud"})
    ''
    """
    if not external_url:
        return ""
    base = external_url.rstrip("/")
    model = labels.get("model")
    return f"{base}/models/{quote(model, safe='')}" if model else f"{base}/alerts"


class Alert(msgspec.Struct, frozen=True, omit_defaults=True):
    """One rule firing for one label set (times are seconds since the epoch).

    ``labels`` identify it (and include ``alertname``, the rule, and ``severity``);
    ``annotations`` describe it (``summary``, ``description``, ``runbook_url``), rendered
    from the rule's templates. ``value`` is the series value that last decided its state.
    ``acknowledged_by`` is set once someone acknowledges it (escalation stops).
    """

    fingerprint: str
    rule: str
    severity: Severity
    state: AlertState
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float
    active_since: float  # when the condition began to hold (pending from then)
    starts_at: float | None = None  # when it began to fire
    ends_at: float | None = None  # when it resolved
    updated_at: float = 0.0
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None


class Notification(msgspec.Struct, frozen=True):
    """What one receiver is sent about one group of alerts.

    ``status`` is ``firing`` while any alert of the group fires, ``resolved`` once all
    have resolved. ``dedup_key`` names the group (route, receiver and the group's label
    values) and is stable across updates, retries and restarts. ``id`` is unique per
    notification (the outbox's key); ``created_at`` is when it was made. ``action`` is
    ``acknowledge`` for the message that tells a paging service (PagerDuty, Opsgenie)
    that someone acknowledged the group in mlpulse, sent at once rather than with the
    next reminder; other receivers are not sent those. ``external_url`` is mlpulse's own
    address (``MLPULSE_EXTERNAL_URL``); notifiers link to :func:`alert_page` under it.
    """

    id: str
    receiver: str
    dedup_key: str
    status: str  # "firing" | "resolved"
    severity: Severity
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    alerts: list[Alert]
    title: str
    created_at: float
    external_url: str = ""
    action: str = "notify"  # "notify" | "acknowledge" (someone acknowledged it in mlpulse)


class DeliveryResult(msgspec.Struct, frozen=True):
    """A notifier's answer for one attempt.

    ``delivered`` means the service accepted the request (a 2xx; for PagerDuty a 202
    means accepted for processing, not that a person was paged). ``retry_after`` is the
    wait the service asked for (429/503 ``Retry-After``), if any. ``permanent`` marks a
    failure that retrying cannot fix (a 4xx other than 408/429), so the outbox sends it
    to the dead-letter list at once.
    """

    delivered: bool
    status_code: int | None = None
    detail: str = ""
    retry_after: float | None = None
    permanent: bool = False


class Silence(msgspec.Struct, frozen=True, omit_defaults=True):
    """Mutes the alerts whose labels match ``matchers`` between ``starts_at`` and ``ends_at``."""

    id: str
    matchers: dict[str, str]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    created_at: float

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        return self.active(now) and all(labels.get(k, "") == v for k, v in self.matchers.items())


class GroupState(msgspec.Struct, frozen=True):
    """Where one notification group stands (Alertmanager's aggregation group).

    ``sent`` maps each alert fingerprint of the last notification to its state then, so
    a change (a new alert, one resolving) is seen; ``next_flush_at`` is when the group
    may be sent next (``group_wait`` after it formed, ``group_interval`` after a send).
    """

    key: str
    route: str
    receiver: str
    group_labels: dict[str, str]
    created_at: float
    next_flush_at: float
    last_sent_at: float | None = None
    sent: dict[str, str] = msgspec.field(default_factory=dict)


class OutboxEntry(msgspec.Struct, frozen=True, omit_defaults=True):
    """A notification on its way: ``pending`` → ``delivered`` | ``dead`` | ``superseded``.

    A newer notification of the same (receiver, dedup_key) and the same kind (firing,
    resolved, acknowledged) supersedes a pending one, so a receiver that was down gets
    the group's latest state once, not every step it missed; entries of one dedup key
    are delivered in the order they were queued (a trigger before its resolve).
    """

    id: str
    notification: Notification
    status: str
    attempts: int
    next_attempt_at: float
    created_at: float
    updated_at: float
    last_error: str = ""
    delivered_at: float | None = None


class OutboxDepth(msgspec.Struct, frozen=True):
    """What waits for one receiver: pending entries and when the oldest was queued."""

    receiver: str
    pending: int
    oldest_created_at: float
