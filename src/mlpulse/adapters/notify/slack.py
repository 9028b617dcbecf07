"""Slack through an incoming webhook, as a Block Kit message.

The message: a ``header`` (status emoji and ``[FIRING:2] title``), a ``section`` whose
``fields`` give status, severity, model and the group's labels, one ``section`` per
alert (its summary, description and runbook link; at most ``MAX_ALERT_SECTIONS``, then
a line saying how many more), and a ``context`` block (receiver, time, link to
mlpulse). ``text`` is the plain fallback shown in notifications and by clients that
cannot draw blocks.

Incoming webhooks can only post: they return no message ``ts`` and cannot edit or
thread onto an earlier message. So a resolved group is a *new* message, headed
"✅ [RESOLVED] title", not an update of the firing one. (Editing needs a bot token and
``chat.update``; that would be a different notifier.)

Slack allows about one message a second per webhook, with short bursts; over that it
answers 429 with ``Retry-After``, which becomes the result's ``retry_after``. A
client-side :class:`~mlpulse.adapters.notify.rate_limit.RateLimiter` (default 1/s,
burst 1) keeps us under it.
"""

from __future__ import annotations

from typing import Any

import httpx

from mlpulse.adapters.notify.http import HttpSender, encode_json
from mlpulse.adapters.notify.rate_limit import RateLimiter
from mlpulse.adapters.notify.text import (
    alert_summary,
    firing,
    is_resolved,
    model_of,
    status_line,
    truncate,
)
from mlpulse.domain.alerts import Alert, DeliveryResult, Notification, Severity

__all__ = ["SlackNotifier", "slack_message"]

RATE_PER_S = 1.0
BURST = 1
MAX_ALERT_SECTIONS = 10  # Slack allows 50 blocks a message; keep the message readable
_HEADER_CHARS = 150  # Slack's limit for a header's plain_text
_FIELD_CHARS = 2000  # Slack's limit for one section field
_SECTION_CHARS = 3000  # Slack's limit for a section's text
_EMOJI = {Severity.CRITICAL: "🔴", Severity.WARNING: "🟠", Severity.INFO: "🔵"}
RESOLVED_EMOJI = "✅"


def _escape(text: str) -> str:
    """Slack's mrkdwn control characters (``&``, ``<``, ``>``) as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _field(name: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": truncate(f"*{name}*\n{value}", _FIELD_CHARS)}


def _alert_section(alert: Alert) -> dict[str, Any]:
    mark = RESOLVED_EMOJI if is_resolved(alert) else _EMOJI[alert.severity]
    lines = [f"{mark} *{_escape(alert_summary(alert))}*"]
    description = alert.annotations.get("description")
    if description and description != alert_summary(alert):
        lines.append(_escape(description))
    runbook = alert.annotations.get("runbook_url")
    if runbook:
        lines.append(f"<{runbook}|Runbook>")
    text = truncate("\n".join(lines), _SECTION_CHARS)
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def slack_message(notification: Notification) -> dict[str, Any]:
    """The JSON body posted to the webhook for ``notification``."""
    resolved = notification.status == "resolved"
    emoji = RESOLVED_EMOJI if resolved else _EMOJI[notification.severity]
    headline = status_line(notification)
    labels = {**notification.group_labels, **notification.common_labels}
    label_text = ", ".join(
        f"`{_escape(key)}={_escape(value)}`"
        for key, value in sorted(labels.items())
        if key not in ("alertname", "severity")
    )
    fields = [
        _field("Status", "Resolved" if resolved else f"Firing ({len(firing(notification))})"),
        _field("Severity", notification.severity.value.capitalize()),
        _field("Model", _escape(model_of(notification)) or "—"),
        _field("Labels", label_text or "—"),
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(f"{emoji} {headline}", _HEADER_CHARS),
                "emoji": True,
            },
        },
        {"type": "section", "fields": fields},
    ]
    shown = notification.alerts[:MAX_ALERT_SECTIONS]
    blocks.extend(_alert_section(alert) for alert in shown)
    hidden = len(notification.alerts) - len(shown)
    if hidden > 0:
        more = f"…and {hidden} more alert{'s' if hidden != 1 else ''}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": more}})
    when = int(notification.created_at)
    context = [
        f"mlpulse · receiver `{_escape(notification.receiver)}`",
        f"<!date^{when}^{{date_short_pretty}} {{time}}|{when}>",
    ]
    if notification.external_url:
        context.append(f"<{notification.external_url}|Open in mlpulse>")
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": part} for part in context]}
    )
    summaries = "; ".join(alert_summary(alert) for alert in shown)
    text = f"{emoji} {headline} ({notification.severity.value})"
    if summaries:
        text += f": {summaries}"
    return {"text": truncate(text, _SECTION_CHARS), "blocks": blocks}


class SlackNotifier:
    """:class:`mlpulse.ports.Notifier` for one Slack incoming webhook ``url``."""

    kind = "slack"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        rate_limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url
        self._limiter = rate_limiter or RateLimiter(RATE_PER_S, BURST)
        self._http = HttpSender(timeout=timeout, transport=transport)

    def send(self, notification: Notification) -> DeliveryResult:
        self._limiter.acquire()
        return self._http.post(self._url, encode_json(slack_message(notification)))

    def close(self) -> None:
        self._http.close()
