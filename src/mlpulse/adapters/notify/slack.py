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

Sizes (Slack's Block Kit reference): a section's text at most 3,000 characters, a
field 2,000, a header 150, at most 50 blocks a message, and ``text`` is cut by Slack at
40,000. Slack also refuses (``invalid_blocks``, ``msg_blocks_too_long``) messages whose
blocks hold much over 13,000 characters in all, a limit it does not document
(slackapi/bolt-js#2509), so the alert sections share a budget of
``BLOCKS_TEXT_CHARS``; what does not fit becomes "…and N more alerts". Should Slack
still refuse the message as too large (400, 413), it is sent once more as plain text.

Slack allows about one message a second per webhook, with short bursts; over that it
answers 429 with ``Retry-After``, which becomes the result's ``retry_after``. A
client-side :class:`~mlpulse.adapters.notify.rate_limit.RateLimiter` (default 1/s,
burst 1) keeps us under it.
"""

from __future__ import annotations

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
    is_resolved,
    model_of,
    more,
    status_line,
    truncate,
)
from mlpulse.domain.alerts import Alert, DeliveryResult, Notification, Severity

__all__ = ["SlackNotifier", "slack_message"]

RATE_PER_S = 1.0
BURST = 1
MAX_ALERT_SECTIONS = 10  # keeps the message readable (Slack allows 50 blocks in all)
MAX_BLOCKS = 50
BLOCKS_TEXT_CHARS = 12_000  # under the ~13,000 Slack refuses in practice (see above)
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
    shown, budget = [], BLOCKS_TEXT_CHARS - sum(map(_block_chars, blocks))
    for alert in notification.alerts[: min(MAX_ALERT_SECTIONS, MAX_BLOCKS - len(blocks) - 2)]:
        section = _alert_section(alert)
        budget -= _block_chars(section)
        if budget < 0:
            break
        shown.append(alert)
        blocks.append(section)
    hidden = len(notification.alerts) - len(shown)
    if hidden > 0:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": more(hidden)}})
    when = int(notification.created_at)
    context = [
        f"mlpulse · receiver `{_escape(notification.receiver)}`",
        f"<!date^{when}^{{date_short_pretty}} {{time}}|{when}>",
    ]
    if page := group_page(notification):
        context.append(f"<{page}|Open in mlpulse>")
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": part} for part in context]}
    )
    summaries = "; ".join(alert_summary(alert) for alert in shown)
    text = f"{emoji} {headline} ({notification.severity.value})"
    if summaries:
        text += f": {summaries}"
    return {"text": truncate(text, _SECTION_CHARS), "blocks": blocks}


def _block_chars(block: dict[str, Any]) -> int:
    text = block.get("text", {}).get("text", "")
    return len(text) + sum(len(f["text"]) for f in block.get("fields", ()))


def minimal_message(notification: Notification) -> dict[str, Any]:
    """Plain text only: what is sent when Slack refused the full message as too large."""
    emoji = RESOLVED_EMOJI if notification.status == "resolved" else _EMOJI[notification.severity]
    text = f"{emoji} {status_line(notification)} ({notification.severity.value})"
    if page := group_page(notification):
        text += f"\n{page}"
    return {"text": truncate(text, _SECTION_CHARS)}


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
        if notification.action != "notify":
            return DeliveryResult(
                delivered=True, detail="not sent: Slack shows no acknowledgements"
            )
        self._limiter.acquire()
        result = self._http.post(self._url, encode_json(slack_message(notification)))
        if result.status_code not in SIZE_REFUSALS:
            return result
        self._limiter.acquire()
        retried = self._http.post(self._url, encode_json(minimal_message(notification)))
        return msgspec.structs.replace(
            retried, detail=f"sent as plain text after: {result.detail}; {retried.detail}"
        )

    def close(self) -> None:
        self._http.close()
