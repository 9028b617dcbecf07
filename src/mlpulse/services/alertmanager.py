"""Alerts from Prometheus' Alertmanager (its webhook payload, version 4) as our alerts.

They keep their labels (``alertname`` included) and annotations, get the rule name
``alertmanager:<alertname>`` and a severity from their ``severity`` label (``critical``,
``warning``, else ``info``), and then go through the same routing, grouping, silences
and outbox as mlpulse's own. Their state is Alertmanager's to decide: the engine does
not resolve them for want of a rule; a ``resolved`` alert from the webhook does.

The intake is bounded, because whoever can post to it pages people (and, where a
runbook says ``external: true``, acts on production): a request carries at most
``max_per_request`` alerts (413 otherwise) and the intake takes at most
``max_per_minute`` in any minute (429 otherwise; each names its limit). ``startsAt``
more than ``FUTURE_SKEW_S`` ahead of our clock is refused (a clock that far off would
date the incident wrongly), a smaller skew is read as now; one older than ``MAX_AGE_S``
(7 days) is clamped to 7 days ago, so a forged start cannot give an incident a
time-to-detect of months.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import msgspec

from mlpulse.domain.alerts import Alert, AlertState, Severity, fingerprint
from mlpulse.errors import InvalidInputError, PayloadTooLargeError, RateLimitedError
from mlpulse.ports import Clock

RULE_PREFIX: Final = "alertmanager:"
MAX_PER_REQUEST: Final = 1000
MAX_PER_MINUTE: Final = 5000
FUTURE_SKEW_S: Final = 300.0
MAX_AGE_S: Final = 7 * 86400.0


class _AlertmanagerAlert(msgspec.Struct, frozen=True):
    status: str
    labels: dict[str, str]
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    startsAt: str | None = None  # Alertmanager's field names
    endsAt: str | None = None


def _time(text: str | None, field: str) -> float | None:
    if text is None or text.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise InvalidInputError(f"{field}: not an RFC 3339 time: {text!r}", field=field) from exc


def alerts_from_alertmanager(payload: Mapping[str, Any], *, now: float) -> list[Alert]:
    """The alerts of one Alertmanager webhook request.

    Raises
    ------
    InvalidInputError
        If the payload is not Alertmanager's webhook format; ``field`` names the part.
    """
    raw = payload.get("alerts")
    if not isinstance(raw, list):
        raise InvalidInputError("alerts: must be a list of alerts", field="alerts")
    found = []
    for i, item in enumerate(raw):
        try:
            alert = msgspec.convert(item, _AlertmanagerAlert)
        except msgspec.ValidationError as exc:
            raise InvalidInputError(f"alerts[{i}]: {exc}", field=f"alerts[{i}]") from exc
        if alert.status not in ("firing", "resolved"):
            raise InvalidInputError(
                f"alerts[{i}].status: must be firing or resolved; got {alert.status!r}",
                field=f"alerts[{i}].status",
            )
        name = alert.labels.get("alertname", "alertmanager")
        rule = RULE_PREFIX + name
        starts = _time(alert.startsAt, f"alerts[{i}].startsAt") or now
        if starts > now + FUTURE_SKEW_S:
            raise InvalidInputError(
                f"alerts[{i}].startsAt: {alert.startsAt} is more than {FUTURE_SKEW_S:.0f} s "
                "ahead of the collector's clock",
                field=f"alerts[{i}].startsAt",
            )
        starts = min(max(starts, now - MAX_AGE_S), now)  # within the skew: now
        ends = _time(alert.endsAt, f"alerts[{i}].endsAt")
        level = alert.labels.get("severity", "")
        severity = Severity(level) if level in ("critical", "warning") else Severity.INFO
        firing = alert.status == "firing"
        found.append(
            Alert(
                fingerprint=fingerprint(rule, alert.labels),
                rule=rule,
                severity=severity,
                state=AlertState.FIRING if firing else AlertState.RESOLVED,
                labels=dict(alert.labels),
                annotations=dict(alert.annotations),
                value=float("nan"),
                active_since=starts,
                starts_at=starts,
                ends_at=None if firing else (ends or now),
                updated_at=now,
            )
        )
    return found


class AlertmanagerIntake:
    """Alertmanager's webhook requests, within the intake's bounds (module docstring)."""

    def __init__(
        self,
        clock: Clock,
        *,
        max_per_request: int = MAX_PER_REQUEST,
        max_per_minute: int = MAX_PER_MINUTE,
    ) -> None:
        self._clock = clock
        self._max_per_request = max_per_request
        self._max_per_minute = max_per_minute
        self._taken: deque[tuple[float, int]] = deque()  # (when, how many) in the last minute
        self._lock = threading.Lock()

    def accept(self, payload: Mapping[str, Any]) -> list[Alert]:
        """The alerts of one request, counted against the per-minute bound.

        Raises
        ------
        PayloadTooLargeError
            More than ``max_per_request`` alerts in the request.
        RateLimitedError
            The request would take the last minute past ``max_per_minute`` alerts.
        InvalidInputError
            The payload is not Alertmanager's webhook format, or a ``startsAt`` is ahead.
        """
        raw = payload.get("alerts")
        count = len(raw) if isinstance(raw, list) else 0
        if count > self._max_per_request:
            raise PayloadTooLargeError(
                f"alerts: at most {self._max_per_request} alerts per request; got {count}",
                field="alerts",
            )
        now = self._clock.now()
        alerts = alerts_from_alertmanager(payload, now=now)
        with self._lock:
            while self._taken and self._taken[0][0] <= now - 60.0:
                self._taken.popleft()
            recent = sum(n for _, n in self._taken)
            if recent + count > self._max_per_minute:
                raise RateLimitedError(
                    f"alerts: at most {self._max_per_minute} alerts per minute; "
                    f"{recent} taken in the last minute, this request has {count}",
                    field="alerts",
                )
            self._taken.append((now, count))
        return alerts
