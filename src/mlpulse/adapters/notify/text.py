"""The words every notifier shares: the status line, alert summaries, times, limits."""

from __future__ import annotations

from datetime import UTC, datetime

from mlpulse.domain.alerts import Alert, AlertState, Notification, alert_page

__all__ = [
    "SIZE_REFUSALS",
    "alert_summary",
    "firing",
    "group_page",
    "is_resolved",
    "iso8601",
    "model_of",
    "more",
    "status_line",
    "truncate",
]

# Services that refuse an oversized request answer one of these; the notifier then
# sends a minimal payload once rather than losing the page to the dead letters.
SIZE_REFUSALS = frozenset({400, 413})


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut.

    >>> truncate("abcdef", 4)
    'abc…'
    >>> truncate("abc", 4)
    'abc'
    """
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def more(hidden: int, noun: str = "alert") -> str:
    """The line that stands for what was cut.

    >>> more(3)
    '…and 3 more alerts'
    >>> more(1, "detail")
    '…and 1 more detail'
    """
    return f"…and {hidden} more {noun}{'s' if hidden != 1 else ''}"


def iso8601(ts: float) -> str:
    """Epoch seconds as RFC 3339 / ISO-8601 in UTC with a ``Z``.

    >>> iso8601(0)
    '1970-01-01T00:00:00Z'
    >>> iso8601(1.5)
    '1970-01-01T00:00:01.500Z'
    """
    moment = datetime.fromtimestamp(ts, UTC)
    spec = "seconds" if moment.microsecond == 0 else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def is_resolved(alert: Alert) -> bool:
    return alert.state is AlertState.RESOLVED


def firing(notification: Notification) -> list[Alert]:
    """The alerts of the group that still fire (anything not resolved)."""
    return [alert for alert in notification.alerts if not is_resolved(alert)]


def status_line(notification: Notification) -> str:
    """Alertmanager's subject: ``[FIRING:2] title`` or ``[RESOLVED] title``."""
    if notification.status == "resolved":
        return f"[RESOLVED] {notification.title}"
    return f"[FIRING:{len(firing(notification))}] {notification.title}"


def alert_summary(alert: Alert) -> str:
    """One line for an alert: its ``summary`` annotation, else its rule and labels."""
    summary = alert.annotations.get("summary") or alert.annotations.get("description")
    if summary:
        return summary
    labels = ", ".join(
        f"{key}={value}"
        for key, value in sorted(alert.labels.items())
        if key not in ("alertname", "severity")
    )
    return f"{alert.rule} ({labels})" if labels else alert.rule


def model_of(notification: Notification) -> str:
    """The model the group is about, when its labels say so ("" otherwise)."""
    return notification.common_labels.get("model") or notification.group_labels.get("model", "")


def group_page(notification: Notification) -> str:
    """The dashboard page of the group: its model's page, or the alerts page ("" when
    mlpulse has no external URL)."""
    return alert_page(notification.external_url, notification.common_labels)
