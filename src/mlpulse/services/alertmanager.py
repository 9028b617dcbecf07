"""Alerts from Prometheus' Alertmanager (its webhook payload, version 4) as our alerts.

They keep their labels (``alertname`` included) and annotations, get the rule name
``alertmanager:<alertname>`` and a severity from their ``severity`` label (``critical``,
``warning``, else ``info``), and then go through the same routing, grouping, silences
and outbox as mlpulse's own. Their state is Alertmanager's to decide: the engine does
not resolve them for want of a rule; a ``resolved`` alert from the webhook does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import msgspec

from mlpulse.domain.alerts import Alert, AlertState, Severity, fingerprint
from mlpulse.errors import InvalidInputError

RULE_PREFIX: Final = "alertmanager:"


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
