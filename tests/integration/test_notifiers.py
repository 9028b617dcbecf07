"""Notifiers against local receivers: the payloads each service documents, for a trigger
and a resolve, the mapping of errors to delivery results, and client-side rate limits."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import msgspec
import pytest

from mlpulse.adapters.notify import KINDS, build_notifier, settings_problems
from mlpulse.adapters.notify.email import EmailNotifier
from mlpulse.adapters.notify.opsgenie import OpsgenieNotifier
from mlpulse.adapters.notify.pagerduty import PagerDutyNotifier
from mlpulse.adapters.notify.rate_limit import RateLimiter, RateLimiterPool
from mlpulse.adapters.notify.slack import SlackNotifier
from mlpulse.adapters.notify.webhook import WebhookNotifier, verify_signature
from mlpulse.domain.alerts import Alert, AlertState, Notification, Severity, fingerprint
from mlpulse.errors import ConfigurationError, ParameterError
from mlpulse.ports import Notifier
from tests.integration.receivers import HttpReceiver, Reply, SmtpReceiver, free_port

T0 = 1_800_000_000.0


def make_alert(
    column: str,
    *,
    severity: Severity = Severity.CRITICAL,
    resolved: bool = False,
    acknowledged: bool = False,
) -> Alert:
    labels = {"alertname": "drift", "model": "fraud", "column": column, "severity": severity}
    return Alert(
        fingerprint=fingerprint("drift", labels),
        rule="drift",
        severity=severity,
        state=AlertState.RESOLVED if resolved else AlertState.FIRING,
        labels=labels,
        annotations={
            "summary": f"PSI of {column} is 0.31 (threshold 0.2)",
            "description": f"{column} drifted <a lot> & fast",
            "runbook_url": "https://runbooks.example/drift",
        },
        value=0.31,
        active_since=T0 - 300,
        starts_at=T0 - 240,
        ends_at=T0 + 60 if resolved else None,
        acknowledged_at=T0 + 30 if acknowledged else None,
        acknowledged_by="ana" if acknowledged else None,
    )


def make_notification(
    *,
    resolved: bool = False,
    severity: Severity = Severity.CRITICAL,
    title: str = "Feature drift on fraud",
    alerts: list[Alert] | None = None,
    dedup_key: str = "route-1/oncall/fraud",
) -> Notification:
    if alerts is None:
        alerts = [
            make_alert(column, severity=severity, resolved=resolved)
            for column in ("amount", "country")
        ]
    return Notification(
        id="n-1",
        receiver="oncall",
        dedup_key=dedup_key,
        status="resolved" if resolved else "firing",
        severity=severity,
        group_labels={"model": "fraud"},
        common_labels={"alertname": "drift", "model": "fraud", "severity": severity.value},
        alerts=alerts,
        title=title,
        created_at=T0,
        external_url="https://mlpulse.example",
    )


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as running:
        yield running


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


# -- Slack ----------------------------------------------------------------------------------


def test_slack_notifier_posts_block_kit_message_when_firing(receiver: HttpReceiver) -> None:
    notifier = SlackNotifier(f"{receiver.url}/services/T0/B0/secret")
    result = notifier.send(make_notification())
    notifier.close()

    assert result.delivered and result.status_code == 200
    request = receiver.requests[0]
    assert (request.method, request.path) == ("POST", "/services/T0/B0/secret")
    assert request.headers["content-type"] == "application/json"
    message = request.json()
    assert message["text"].startswith("🔴 [FIRING:2] Feature drift on fraud (critical)")
    assert "PSI of amount is 0.31" in message["text"]
    header, fields, *alerts, context = message["blocks"]
    assert header["type"] == "header"
    assert header["text"] == {
        "type": "plain_text",
        "text": "🔴 [FIRING:2] Feature drift on fraud",
        "emoji": True,
    }
    assert fields["type"] == "section"
    texts = [field["text"] for field in fields["fields"]]
    assert all(field["type"] == "mrkdwn" for field in fields["fields"])
    assert texts[:3] == ["*Status*\nFiring (2)", "*Severity*\nCritical", "*Model*\nfraud"]
    assert texts[3] == "*Labels*\n`model=fraud`"
    assert [block["type"] for block in alerts] == ["section", "section"]
    first = alerts[0]["text"]
    assert first["type"] == "mrkdwn"
    assert "*PSI of amount is 0.31 (threshold 0.2)*" in first["text"]
    assert "amount drifted &lt;a lot&gt; &amp; fast" in first["text"]  # mrkdwn escaped
    assert "<https://runbooks.example/drift|Runbook>" in first["text"]
    assert context["type"] == "context"
    elements = [element["text"] for element in context["elements"]]
    assert "receiver `oncall`" in elements[0]
    assert elements[1].startswith(f"<!date^{int(T0)}^")
    assert elements[2] == "<https://mlpulse.example/models/fraud|Open in mlpulse>"


def test_slack_notifier_posts_a_new_resolved_message_when_resolved(
    receiver: HttpReceiver,
) -> None:
    notifier = SlackNotifier(receiver.url)
    assert notifier.send(make_notification(resolved=True)).delivered
    notifier.close()

    message = receiver.requests[0].json()
    assert message["blocks"][0]["text"]["text"] == "✅ [RESOLVED] Feature drift on fraud"
    assert message["blocks"][1]["fields"][0]["text"] == "*Status*\nResolved"
    assert message["text"].startswith("✅ [RESOLVED] Feature drift on fraud")
    assert all(block["type"] != "actions" for block in message["blocks"])


def test_slack_notifier_limits_alert_sections_when_the_group_is_large(
    receiver: HttpReceiver,
) -> None:
    notification = make_notification(alerts=[make_alert(f"c{i}") for i in range(25)])
    notifier = SlackNotifier(receiver.url)
    notifier.send(notification)
    notifier.close()

    blocks = receiver.requests[0].json()["blocks"]
    assert len(blocks) == 2 + 10 + 1 + 1
    assert blocks[-2]["text"]["text"] == "…and 15 more alerts"


def test_slack_notifier_returns_retry_after_when_rate_limited(receiver: HttpReceiver) -> None:
    receiver.script(Reply(429, "rate_limited", headers={"Retry-After": "7"}))
    notifier = SlackNotifier(receiver.url)
    result = notifier.send(make_notification())
    notifier.close()

    assert not result.delivered
    assert (result.status_code, result.retry_after, result.permanent) == (429, 7.0, False)
    assert "rate_limited" in result.detail


# -- PagerDuty ------------------------------------------------------------------------------

PD_ACCEPTED = Reply(
    202, {"status": "success", "message": "Event processed", "dedup_key": "route-1/oncall/fraud"}
)


@pytest.mark.parametrize("severity", [Severity.CRITICAL, Severity.WARNING, Severity.INFO])
def test_pagerduty_notifier_sends_trigger_event_when_firing(
    receiver: HttpReceiver, severity: Severity
) -> None:
    receiver.script(PD_ACCEPTED)
    notifier = PagerDutyNotifier("R0UTINGKEY", events_url=receiver.url + "/")
    result = notifier.send(make_notification(severity=severity))
    notifier.close()

    assert result.delivered and result.status_code == 202
    assert "accepted for processing" in result.detail and "not yet paged" in result.detail
    request = receiver.requests[0]
    assert (request.method, request.path) == ("POST", "/v2/enqueue")
    event = request.json()
    assert event["routing_key"] == "R0UTINGKEY"
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "route-1/oncall/fraud"
    payload = event["payload"]
    assert payload["summary"] == "[FIRING:2] Feature drift on fraud"
    assert payload["severity"] == severity.value  # critical/warning/info; never "error"
    assert payload["source"] == "mlpulse"
    assert datetime.fromisoformat(payload["timestamp"]) == datetime.fromtimestamp(T0, UTC)
    assert payload["timestamp"].endswith("Z")
    assert (payload["component"], payload["class"]) == ("fraud", "drift")
    details = payload["custom_details"]
    assert details["firing"] == 2
    assert [alert["labels"]["column"] for alert in details["alerts"]] == ["amount", "country"]
    assert event["links"] == [
        {"href": "https://mlpulse.example/models/fraud", "text": "Open in mlpulse"},
        {"href": "https://runbooks.example/drift", "text": "Runbook"},
    ]
    assert (event["client"], event["client_url"]) == (
        "mlpulse",
        "https://mlpulse.example/models/fraud",
    )


def test_pagerduty_notifier_truncates_summary_to_1024_characters(
    receiver: HttpReceiver,
) -> None:
    notifier = PagerDutyNotifier("key", events_url=receiver.url)
    notifier.send(make_notification(title="x" * 2000, dedup_key="k" * 300))
    notifier.close()

    event = receiver.requests[0].json()
    assert len(event["payload"]["summary"]) == 1024
    assert len(event["dedup_key"]) <= 255  # hashed, still stable for the resolve


def test_pagerduty_notifier_sends_valid_json_when_a_value_is_nan(receiver: HttpReceiver) -> None:
    alert = msgspec.structs.replace(make_alert("amount"), value=float("nan"))
    notifier = PagerDutyNotifier("key", events_url=receiver.url)
    assert notifier.send(make_notification(alerts=[alert])).delivered
    notifier.close()

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    event = json.loads(receiver.requests[0].body, parse_constant=refuse)
    assert event["payload"]["custom_details"]["alerts"][0]["value"] == "nan"


def test_pagerduty_notifier_sends_resolve_with_the_same_dedup_key(
    receiver: HttpReceiver,
) -> None:
    notifier = PagerDutyNotifier("R0UTINGKEY", events_url=receiver.url)
    notifier.send(make_notification())
    notifier.send(make_notification(resolved=True))
    notifier.close()

    trigger, resolve = (request.json() for request in receiver.requests)
    assert resolve == {
        "routing_key": "R0UTINGKEY",
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }


def test_pagerduty_notifier_sends_acknowledge_when_every_firing_alert_is_acknowledged(
    receiver: HttpReceiver,
) -> None:
    alerts = [make_alert("amount", acknowledged=True), make_alert("age", resolved=True)]
    notifier = PagerDutyNotifier("key", events_url=receiver.url)
    notifier.send(make_notification(alerts=alerts))
    notifier.close()

    assert receiver.requests[0].json()["event_action"] == "acknowledge"


def test_pagerduty_notifier_marks_400_permanent(receiver: HttpReceiver) -> None:
    body = {"status": "invalid event", "message": "Event object is invalid", "errors": ["x"]}
    receiver.script(Reply(400, body), Reply(400, body))  # the full event, then the minimal one
    notifier = PagerDutyNotifier("key", events_url=receiver.url)
    result = notifier.send(make_notification())
    notifier.close()

    assert not result.delivered and result.permanent and result.status_code == 400
    assert "Event object is invalid" in result.detail and len(receiver.requests) == 2


def test_pagerduty_notifier_suggests_default_backoff_when_429_has_no_retry_after(
    receiver: HttpReceiver,
) -> None:
    receiver.script(Reply(429), Reply(429, headers={"Retry-After": "5"}))
    notifier = PagerDutyNotifier("key", events_url=receiver.url)
    first, second = notifier.send(make_notification()), notifier.send(make_notification())
    notifier.close()

    assert (first.retry_after, first.permanent) == (30.0, False)
    assert second.retry_after == 5.0


# -- Opsgenie -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "priority"),
    [(Severity.CRITICAL, "P1"), (Severity.WARNING, "P3"), (Severity.INFO, "P5")],
)
def test_opsgenie_notifier_creates_alert_when_firing(
    receiver: HttpReceiver, severity: Severity, priority: str
) -> None:
    receiver.script(Reply(202, {"result": "Request will be processed", "requestId": "r1"}))
    notifier = OpsgenieNotifier("g-key", api_url=receiver.url, tags=("ml",))
    result = notifier.send(make_notification(severity=severity, title="t" * 200))
    notifier.close()

    assert result.delivered and result.status_code == 202
    request = receiver.requests[0]
    assert (request.method, request.path) == ("POST", "/v2/alerts")
    assert request.headers["authorization"] == "GenieKey g-key"
    alert = request.json()
    assert len(alert["message"]) == 130 and alert["message"].startswith("[FIRING:2] ttt")
    assert alert["alias"] == "route-1/oncall/fraud"
    assert alert["priority"] == priority
    assert alert["tags"] == ["ml", severity.value, "fraud"]
    assert alert["details"]["model"] == "fraud"
    assert (alert["source"], alert["entity"]) == ("mlpulse", "fraud")
    assert "PSI of amount is 0.31" in alert["description"]


def test_opsgenie_notifier_closes_by_alias_when_resolved(receiver: HttpReceiver) -> None:
    receiver.script(Reply(202, {"result": "Request will be processed"}))
    notifier = OpsgenieNotifier("g-key", api_url=receiver.url)
    result = notifier.send(make_notification(resolved=True))
    notifier.close()

    assert result.delivered
    request = receiver.requests[0]
    assert request.method == "POST"
    assert request.path == "/v2/alerts/route-1%2Foncall%2Ffraud/close"
    assert request.query == {"identifierType": ["alias"]}
    assert request.headers["authorization"] == "GenieKey g-key"
    assert request.json()["source"] == "mlpulse"


# -- Webhook --------------------------------------------------------------------------------


class FixedClock:
    def __init__(self, now: float) -> None:
        self.value = now

    def now(self) -> float:
        return self.value


def test_webhook_notifier_posts_alertmanager_json_signed_when_firing(
    receiver: HttpReceiver,
) -> None:
    notifier = WebhookNotifier(
        receiver.url + "/hook", secret="s3cret", headers={"Authorization": "Bearer t"}
    )
    notifier.send(make_notification())
    notifier.close()

    request = receiver.requests[0]
    body = request.json()
    assert {key: body[key] for key in ("version", "groupKey", "truncatedAlerts", "status")} == {
        "version": "4",
        "groupKey": "route-1/oncall/fraud",
        "truncatedAlerts": 0,
        "status": "firing",
    }
    assert body["receiver"] == "oncall"
    assert body["groupLabels"] == {"model": "fraud"}
    assert body["commonLabels"]["alertname"] == "drift"
    assert body["commonAnnotations"] == {"runbook_url": "https://runbooks.example/drift"}
    assert body["externalURL"] == "https://mlpulse.example"
    first = body["alerts"][0]
    assert first["status"] == "firing"
    assert first["labels"]["column"] == "amount"
    assert first["annotations"]["summary"].startswith("PSI of amount")
    assert first["startsAt"] == "2027-01-15T07:56:00Z"
    assert first["endsAt"] == "0001-01-01T00:00:00Z"
    assert first["generatorURL"] == "https://mlpulse.example/models/fraud"
    assert first["fingerprint"] == fingerprint("drift", first["labels"])
    timestamp = request.headers["x-mlpulse-timestamp"]
    signature = request.headers["x-mlpulse-signature"]
    assert signature.startswith("sha256=")
    assert verify_signature("s3cret", timestamp, request.body, signature)
    assert not verify_signature("other", timestamp, request.body, signature)
    assert not verify_signature("s3cret", timestamp, request.body + b" ", signature)
    assert request.headers["authorization"] == "Bearer t"


def test_webhook_notifier_sets_ends_at_and_truncates_when_resolved(
    receiver: HttpReceiver,
) -> None:
    notifier = WebhookNotifier(receiver.url, secret="s", max_alerts=1, clock=FixedClock(T0 + 100))
    notifier.send(make_notification(resolved=True))
    notifier.close()

    request = receiver.requests[0]
    body = request.json()
    assert (body["status"], body["truncatedAlerts"], len(body["alerts"])) == ("resolved", 1, 1)
    assert body["alerts"][0]["status"] == "resolved"
    assert body["alerts"][0]["endsAt"] == "2027-01-15T08:01:00Z"
    timestamp = request.headers["x-mlpulse-timestamp"]
    assert timestamp == str(int(T0 + 100))
    signature = request.headers["x-mlpulse-signature"]
    assert verify_signature("s", timestamp, request.body, signature, now=T0 + 200)
    assert not verify_signature("s", timestamp, request.body, signature, now=T0 + 1000)


def test_webhook_notifier_sends_no_signature_without_secret(receiver: HttpReceiver) -> None:
    notifier = WebhookNotifier(receiver.url)
    notifier.send(make_notification())
    notifier.close()

    assert "x-mlpulse-signature" not in receiver.requests[0].headers


# -- Email ----------------------------------------------------------------------------------


def parse_mail(content: bytes) -> EmailMessage:
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def email_notifier(smtp: SmtpReceiver, **options: Any) -> EmailNotifier:
    return EmailNotifier(
        smtp.host,
        port=smtp.port,
        sender="mlpulse@example.com",
        to=["oncall@example.com", "ml@example.com"],
        **{"starttls": False, **options},
    )


def test_email_notifier_sends_plain_and_html_parts_when_firing() -> None:
    with SmtpReceiver() as smtp:
        result = email_notifier(smtp).send(make_notification())

    assert result.delivered and result.status_code == 250
    (mail,) = smtp.messages
    assert mail.mail_from == "mlpulse@example.com"
    assert mail.rcpt_tos == ["oncall@example.com", "ml@example.com"]
    message = parse_mail(mail.content)
    assert message["Subject"] == "[FIRING:2] Feature drift on fraud"
    assert message["From"] == "mlpulse@example.com"
    assert message["To"] == "oncall@example.com, ml@example.com"
    assert message["Date"].datetime == datetime.fromtimestamp(T0, UTC)
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert "[FIRING] PSI of amount is 0.31 (threshold 0.2)" in plain.get_content()
    html_text = html.get_content()
    assert "<h2>[FIRING:2] Feature drift on fraud</h2>" in html_text
    assert "amount drifted &lt;a lot&gt; &amp; fast" in html_text


def test_email_notifier_says_resolved_in_subject_when_resolved() -> None:
    with SmtpReceiver() as smtp:
        assert email_notifier(smtp).send(make_notification(resolved=True)).delivered

    message = parse_mail(smtp.messages[0].content)
    assert message["Subject"] == "[RESOLVED] Feature drift on fraud"


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")
def test_email_notifier_logs_in_when_credentials_are_set() -> None:
    with SmtpReceiver(credentials=("bot", "pw")) as smtp:
        good = email_notifier(smtp, username="bot", password="pw").send(make_notification())
        bad = email_notifier(smtp, username="bot", password="no").send(make_notification())

    assert good.delivered and smtp.messages[0].login == "bot"
    assert not bad.delivered and bad.permanent and bad.status_code == 535


@pytest.mark.parametrize(
    ("options", "code", "permanent"),
    [
        ({"rcpt_reply": "550 5.1.1 No such user"}, 550, True),
        ({"rcpt_reply": "450 4.2.1 Mailbox busy"}, 450, False),
        ({"data_reply": "451 4.7.1 Greylisted, try later"}, 451, False),
        ({"data_reply": "554 5.7.1 Rejected"}, 554, True),
    ],
)
def test_email_notifier_maps_smtp_replies(
    options: dict[str, str], code: int, permanent: bool
) -> None:
    with SmtpReceiver(**options) as smtp:  # type: ignore[arg-type]
        result = email_notifier(smtp).send(make_notification())

    assert not result.delivered
    assert (result.status_code, result.permanent) == (code, permanent)


def test_email_notifier_reports_starttls_unsupported_as_permanent() -> None:
    with SmtpReceiver() as smtp:
        result = email_notifier(smtp, starttls=True).send(make_notification())
    assert not result.delivered and result.permanent
    assert "STARTTLS" in result.detail or "does not support" in result.detail


def test_email_notifier_retries_when_the_server_is_down() -> None:
    notifier = EmailNotifier(
        "127.0.0.1", port=free_port(), sender="a@x.io", to=["b@x.io"], starttls=False
    )
    result = notifier.send(make_notification())
    assert not result.delivered and not result.permanent


# -- Error mapping ---------------------------------------------------------------------------


def test_notifier_reports_timeout_as_retryable(receiver: HttpReceiver) -> None:
    receiver.script(Reply(200, delay=1.0))
    notifier = WebhookNotifier(receiver.url, timeout=0.2)
    result = notifier.send(make_notification())
    notifier.close()

    assert not result.delivered and not result.permanent and result.status_code is None
    assert "timed out" in result.detail


def test_notifier_reports_connection_refused_as_retryable() -> None:
    url = f"http://127.0.0.1:{free_port()}/services/secret-token"
    notifier = SlackNotifier(url)
    result = notifier.send(make_notification())
    notifier.close()

    assert not result.delivered and not result.permanent and result.status_code is None
    assert "ConnectError" in result.detail
    assert "secret-token" not in result.detail  # the webhook URL is a secret


def test_notifier_reads_retry_after_as_http_date(receiver: HttpReceiver) -> None:
    later = format_datetime(datetime.fromtimestamp(T0 + 90, UTC), usegmt=True)
    receiver.script(Reply(503, headers={"Retry-After": later}))
    notifier = WebhookNotifier(receiver.url, clock=FixedClock(T0))
    result = notifier.send(make_notification())
    notifier.close()

    assert (result.status_code, result.retry_after, result.permanent) == (503, 90.0, False)


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(500, False), (502, False), (408, False), (404, True), (403, True), (301, True)],
)
def test_notifier_maps_status_codes(receiver: HttpReceiver, status: int, permanent: bool) -> None:
    receiver.script(Reply(status, headers={"Location": "https://elsewhere.example"}))
    notifier = WebhookNotifier(receiver.url)
    result = notifier.send(make_notification())
    notifier.close()

    assert not result.delivered
    assert (result.status_code, result.permanent, result.retry_after) == (status, permanent, None)


# -- Rate limits ----------------------------------------------------------------------------


def max_in_window(times: list[float], window: float) -> int:
    """The most calls in any half-open window [t, t + window)."""
    eps = 1e-9
    return max(sum(1 for u in times if t <= u < t + window - eps) for t in times)


def test_pagerduty_rate_limit_keeps_130_sends_to_at_most_120_a_minute(
    receiver: HttpReceiver,
) -> None:
    fake = FakeTime()
    pool = RateLimiterPool(clock=fake.clock, sleep=fake.sleep)
    settings = {"routing_key": "key", "events_url": receiver.url}
    notifier = build_notifier("pagerduty", settings, rate_limiters=pool)
    times = []
    for _ in range(130):
        assert notifier.send(make_notification()).delivered
        times.append(fake.now)
    notifier.close()

    assert len(receiver.requests) == 130
    assert max_in_window(times, 60.0) <= 120
    assert times[9] == 0.0  # a burst of 10 goes at once
    assert times[-1] < 70.0  # and the rest is not slowed more than needed


def test_slack_rate_limit_sends_at_most_one_a_second(receiver: HttpReceiver) -> None:
    fake = FakeTime()
    pool = RateLimiterPool(clock=fake.clock, sleep=fake.sleep)
    notifier = build_notifier("slack", {"url": receiver.url}, rate_limiters=pool)
    times = []
    for _ in range(5):
        notifier.send(make_notification())
        times.append(fake.now)
    notifier.close()

    assert max_in_window(times, 1.0) == 1
    assert times == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])


def test_rate_limiter_pool_shares_one_bucket_per_key() -> None:
    pool = RateLimiterPool()
    first = pool.get("slack", "u", rate_per_s=1.0, burst=1)
    assert pool.get("slack", "u", rate_per_s=5.0, burst=5) is first
    assert pool.get("slack", "v", rate_per_s=1.0, burst=1) is not first


def test_rate_limiter_serves_concurrent_callers_one_token_each() -> None:
    limiter = RateLimiter(10.0, 3, clock=lambda: 0.0, sleep=lambda s: None)
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(25):
            wait = limiter.acquire()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    expected = [0.0] * 3 + [k / 10.0 for k in range(1, 198)]
    assert sorted(waits) == pytest.approx(expected)


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0), (float("inf"), 1)])
def test_rate_limiter_refuses_bad_parameters(rate: float, burst: int) -> None:
    with pytest.raises(ParameterError, match="RateLimiter"):
        RateLimiter(rate, burst)


# -- build_notifier ---------------------------------------------------------------------------

VALID: dict[str, dict[str, Any]] = {
    "slack": {"url": "https://hooks.slack.com/services/T/B/x"},
    "pagerduty": {"routing_key": "k", "events_url": "https://events.eu.pagerduty.com"},
    "opsgenie": {"api_key": "k", "api_url": "https://api.eu.opsgenie.com", "tags": ["ml"]},
    "webhook": {"url": "https://hooks.example/x", "secret": "s", "headers": {"X-A": "b"}},
    "email": {
        "to": "oncall@example.com",
        "from": "mlpulse@example.com",
        "host": "smtp.example.com",
        "port": 2525,
        "username": "u",
        "password": "p",
    },
}


@pytest.mark.parametrize("kind", KINDS)
def test_build_notifier_makes_each_kind_from_valid_settings(kind: str) -> None:
    notifier: Notifier = build_notifier(kind, VALID[kind])
    assert notifier.kind == kind
    notifier.close()


@pytest.mark.parametrize(
    ("kind", "settings", "message"),
    [
        ("slack", {}, "'url' setting of a slack receiver is required"),
        ("slack", {"url": "ftp://x"}, "'url' setting of a slack receiver must be an http(s) URL"),
        ("pagerduty", {"routing_key": ""}, "'routing_key' setting of a pagerduty receiver"),
        ("pagerduty", {"routing_key": "k", "events_url": "nope"}, "'events_url' setting"),
        ("opsgenie", {}, "'api_key' setting of an opsgenie receiver is required"),
        ("opsgenie", {"api_key": "k", "tags": [1]}, "'tags' setting"),
        ("webhook", {"url": "http://h", "secret": 3}, "'secret' setting"),
        ("webhook", {"url": "http://h", "max_alerts": -1}, "'max_alerts' setting"),
        ("webhook", {"url": "http://h", "timeout": 0}, "'timeout' setting"),
        ("webhook", {"url": "http://h", "rate_per_s": "fast"}, "'rate_per_s' setting"),
        ("slack", {"url": "http://h", "channel": "#x"}, "'channel' setting is not known"),
        ("email", {"from": "a@b.c", "host": "h"}, "'to' setting of an email receiver"),
        ("email", {"to": "a@b.c", "host": "h"}, "'from' setting"),
        ("email", {"to": "a@b.c", "from": "a@b.c"}, "'host' setting"),
        ("email", {"to": "nobody", "from": "a@b.c", "host": "h"}, "'to' setting"),
        ("email", {"to": "a@b.c", "from": "a@b.c", "host": "h", "port": 0}, "'port' setting"),
        (
            "email",
            {"to": "a@b.c", "from": "a@b.c", "host": "h", "username": "u"},
            "'password' setting",
        ),
        ("sms", {}, "receiver kind must be one of slack, pagerduty"),
    ],
)
def test_build_notifier_names_the_bad_field(
    kind: str, settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_notifier(kind, settings)


def test_build_notifier_reads_numbers_and_booleans_written_as_text() -> None:
    # mlpulse.yaml passes every scalar as the text written; ${NAME} expands to text.
    with SmtpReceiver() as smtp:
        notifier = build_notifier("email", {
            "to": "oncall@example.com", "from": "mlpulse@example.com", "host": smtp.host,
            "port": str(smtp.port), "starttls": "false", "timeout": "2.5",
            "rate_per_s": "10", "burst": "3",
        })  # fmt: skip
        assert notifier.send(make_notification()).delivered
        notifier.close()
    assert len(smtp.messages) == 1
    for kind, text in (("slack", {"timeout": "2", "rate_per_s": "0.5", "burst": "2"}),
                       ("webhook", {"max_alerts": "5", "rate_per_s": "1e1"})):  # fmt: skip
        build_notifier(kind, {**VALID[kind], **text}).close()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"port": "587x"}, "'port' setting of an email receiver must be an int in [1, 65535]. "
                           "Got '587x' instead."),
        ({"port": "2.5"}, "'port' setting"),
        ({"starttls": "yes"}, "'starttls' setting of an email receiver must be true or false. "
                              "Got 'yes' instead."),
        ({"timeout": "soon"}, "'timeout' setting"),
        ({"timeout": "nan"}, "'timeout' setting"),
        ({"timeout": "-1"}, "'timeout' setting"),
    ],
)  # fmt: skip
def test_build_notifier_names_the_setting_of_text_that_is_not_a_number(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        build_notifier("email", {**VALID["email"], **settings})
    assert message in str(info.value)


def test_settings_problems_lists_every_problem_with_its_setting_without_building() -> None:
    settings = {"to": "nobody", "host": "smtp.example.com", "port": "x", "starttls": "maybe",
                "username": "bot", "chanel": "#ml"}  # fmt: skip
    assert settings_problems("email", settings) == [
        ("from", "required for an email receiver"),
        ("to", "must be an email address; got 'nobody'"),
        ("port", "must be an int in [1, 65535]; got 'x'"),
        ("password", "required when the other of username/password is set"),
        ("starttls", "must be true or false; got 'maybe'"),
        ("chanel", "unknown setting of an email receiver; known: burst, from, host, password, "
                   "port, rate_per_s, starttls, timeout, to, username"),
    ]  # fmt: skip
    assert settings_problems("slack", {"url": "ftp://x"}) == [
        ("url", "must be an http(s) URL; got 'ftp://x'")
    ]
    for kind in KINDS:
        assert settings_problems(kind, VALID[kind]) == []


def test_settings_problems_takes_an_environment_variable_for_any_value() -> None:
    # ${NAME} is read from the collector's environment when the receiver is built.
    settings = {"to": "${ONCALL}", "from": "${SENDER}", "host": "${SMTP_HOST}",
                "port": "${SMTP_PORT}", "starttls": "${SMTP_TLS}"}  # fmt: skip
    assert settings_problems("email", settings) == []
    assert settings_problems("webhook", {"url": "${HOOK}/alerts", "timeout": "${T}"}) == []


def test_built_notifiers_deliver_to_configured_endpoints(receiver: HttpReceiver) -> None:
    notifiers = [
        build_notifier("slack", {"url": receiver.url + "/slack"}),
        build_notifier("pagerduty", {"routing_key": "k", "events_url": receiver.url}),
        build_notifier("opsgenie", {"api_key": "k", "api_url": receiver.url}),
        build_notifier("webhook", {"url": receiver.url + "/hook", "secret": "s"}),
    ]
    for notifier in notifiers:
        assert notifier.send(make_notification()).delivered
        notifier.close()
    paths = [request.path for request in receiver.requests]
    assert paths == ["/slack", "/v2/enqueue", "/v2/alerts", "/hook"]
