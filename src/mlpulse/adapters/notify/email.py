"""Email over SMTP (``smtplib``): a plain-text part and an HTML part.

The subject follows Alertmanager: ``[FIRING:2] title`` while alerts fire,
``[RESOLVED] title`` after. Each send opens one connection (EHLO, optional STARTTLS,
optional LOGIN, one message, QUIT), as Alertmanager does; there is no pool to keep
alive. Implicit TLS (SMTPS, port 465) is not offered: use STARTTLS on 587.

SMTP answers become results: a 5xx reply (bad recipient, authentication refused,
message rejected) is permanent, a 4xx reply (mailbox busy, greylisting) and network
errors are retried, and a server without STARTTLS or AUTH when we need them is a
permanent configuration problem. ``status_code`` carries the SMTP reply code. When
some recipients are refused and others accept, the message counts as delivered and
the detail names the refused ones.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from mlpulse.adapters.notify.rate_limit import RateLimiter
from mlpulse.adapters.notify.text import (
    alert_summary,
    group_page,
    is_resolved,
    iso8601,
    status_line,
)
from mlpulse.domain.alerts import DeliveryResult, Notification

__all__ = ["EmailNotifier", "email_message"]


def _plain(notification: Notification) -> str:
    lines = [status_line(notification), ""]
    lines += [f"{key}: {value}" for key, value in sorted(notification.common_labels.items())]
    lines.append("")
    for alert in notification.alerts:
        state = "RESOLVED" if is_resolved(alert) else "FIRING"
        lines.append(f"[{state}] {alert_summary(alert)}")
        lines.append(f"  since {iso8601(alert.starts_at or alert.active_since)}")
        for key in ("description", "runbook_url"):
            if key in alert.annotations:
                lines.append(f"  {key}: {alert.annotations[key]}")
    if page := group_page(notification):
        lines += ["", f"Open in mlpulse: {page}"]
    return "\n".join(lines) + "\n"


def _html(notification: Notification) -> str:
    esc = html.escape
    labels = "".join(
        f"<tr><th align='left'>{esc(k)}</th><td>{esc(v)}</td></tr>"
        for k, v in sorted(notification.common_labels.items())
    )
    items = []
    for alert in notification.alerts:
        state = "RESOLVED" if is_resolved(alert) else "FIRING"
        extra = ""
        if "description" in alert.annotations:
            extra += f"<br>{esc(alert.annotations['description'])}"
        if "runbook_url" in alert.annotations:
            extra += f"<br><a href='{esc(alert.annotations['runbook_url'])}'>Runbook</a>"
        items.append(f"<li><b>[{state}]</b> {esc(alert_summary(alert))}{extra}</li>")
    link = ""
    if page := group_page(notification):
        link = f"<p><a href='{esc(page)}'>Open in mlpulse</a></p>"
    return (
        f"<html><body><h2>{esc(status_line(notification))}</h2>"
        f"<table>{labels}</table><ul>{''.join(items)}</ul>{link}</body></html>"
    )


def email_message(notification: Notification, *, sender: str, to: Sequence[str]) -> EmailMessage:
    """The message for ``notification``: text/plain with a text/html alternative."""
    message = EmailMessage()
    message["Subject"] = status_line(notification)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(notification.created_at, usegmt=True)
    message["Message-ID"] = make_msgid(domain="mlpulse")
    message["X-Mlpulse-Dedup-Key"] = notification.dedup_key
    message.set_content(_plain(notification))
    message.add_alternative(_html(notification), subtype="html")
    return message


def _reply_result(code: int, text: bytes | str, what: str) -> DeliveryResult:
    reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return DeliveryResult(
        delivered=False, status_code=code, detail=f"{what}: {code} {reply}", permanent=code >= 500
    )


class EmailNotifier:
    """:class:`mlpulse.ports.Notifier` sending mail through one SMTP server."""

    kind = "email"

    def __init__(
        self,
        host: str,
        *,
        sender: str,
        to: Sequence[str],
        port: int = 587,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = 10.0,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._to = tuple(to)
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._limiter = rate_limiter

    def send(self, notification: Notification) -> DeliveryResult:
        if notification.action != "notify":
            return DeliveryResult(
                delivered=True, detail="not sent: e-mail gets no acknowledgements"
            )
        message = email_message(notification, sender=self._sender, to=self._to)
        if self._limiter is not None:
            self._limiter.acquire()
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.ehlo()
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self._username is not None:
                    smtp.login(self._username, self._password or "")
                refused = smtp.send_message(message, self._sender, list(self._to))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            worst = max(codes, default=550)
            return DeliveryResult(
                delivered=False,
                status_code=worst,
                detail=f"every recipient refused: {sorted(exc.recipients)}",
                permanent=all(code >= 500 for code in codes),
            )
        except smtplib.SMTPResponseException as exc:
            return _reply_result(exc.smtp_code, exc.smtp_error, type(exc).__name__)
        except smtplib.SMTPNotSupportedError as exc:
            detail = f"the SMTP server does not support what the settings ask: {exc}"
            return DeliveryResult(delivered=False, detail=detail, permanent=True)
        except ssl.SSLCertVerificationError as exc:
            return DeliveryResult(delivered=False, detail=f"TLS: {exc}", permanent=True)
        except OSError as exc:  # connection refused, timeout, disconnect (SMTPException too)
            return DeliveryResult(delivered=False, detail=f"{type(exc).__name__}: {exc}")
        if refused:
            return DeliveryResult(
                delivered=True, status_code=250, detail=f"refused: {sorted(refused)}"
            )
        return DeliveryResult(delivered=True, status_code=250, detail="sent")

    def close(self) -> None:
        """Nothing to release: each send opens and closes its own connection."""
