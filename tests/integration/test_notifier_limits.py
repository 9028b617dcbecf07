"""Payload size limits of Slack, Opsgenie and PagerDuty, against a local receiver, and the
minimal payload sent once when a service refuses a request as too large."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from mlpulse.adapters.notify import build_notifier
from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.domain.alerts import Alert, AlertState, Notification, Severity
from mlpulse.services.outbox_worker import OutboxWorker
from tests.integration.receivers import HttpReceiver, Reply

T0 = 1_767_225_600.0


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


def _group(n: int, *, label_chars: int = 20, text_chars: int = 200) -> Notification:
    alerts = [
        Alert(
            fingerprint=f"fp{i:03d}",
            rule="drift",
            severity=Severity.WARNING,
            state=AlertState.FIRING,
            labels={
                "alertname": "drift",
                "model": "fraud",
                "column": f"c{i}",
                "note": "x" * label_chars,
                f"extra{i}": "y" * label_chars,
            },
            annotations={
                "summary": f"fraud/c{i} drifted " + "s" * text_chars,
                "description": "d" * text_chars,
            },
            value=0.4,
            active_since=T0,
            starts_at=T0,
            updated_at=T0,
        )
        for i in range(n)
    ]
    return Notification(
        id="n1", receiver="r", dedup_key="group-1", status="firing", severity=Severity.WARNING,
        group_labels={"alertname": "drift", "model": "fraud"},
        common_labels={"alertname": "drift", "model": "fraud", "note": "x" * label_chars},
        alerts=alerts, title="drift (model=fraud)", created_at=T0,
    )  # fmt: skip


def _deliver(receiver: HttpReceiver, kind: str, settings: dict[str, Any],
             notification: Notification, tmp_path: Path) -> SQLiteAlertStore:  # fmt: skip
    store = SQLiteAlertStore(tmp_path / "alerts.sqlite")
    worker = OutboxWorker(store, {"r": build_notifier(kind, settings)}, Clock(),
                          rng=random.Random(0))  # fmt: skip
    store.commit(notifications=[notification], now=T0)
    worker.run_once()
    return store


def _text_chars(block: dict[str, Any]) -> int:
    return len(block.get("text", {}).get("text", "")) + sum(
        len(f["text"]) for f in block.get("fields", ())
    )


def test_slack_message_of_a_25_alert_group_keeps_to_block_kit_limits(tmp_path: Path) -> None:
    with HttpReceiver(default=Reply(200, "ok")) as receiver:
        store = _deliver(receiver, "slack", {"url": receiver.url}, _group(25, text_chars=2000),
                         tmp_path)  # fmt: skip
        store.close()
    (message,) = [r.json() for r in receiver.requests]
    blocks = message["blocks"]
    assert len(blocks) <= 50
    assert all(_text_chars(b) <= 3000 for b in blocks)
    assert sum(map(_text_chars, blocks)) <= 12_000
    assert len(message["text"]) <= 40_000
    shown = sum("drifted" in b.get("text", {}).get("text", "") for b in blocks)
    assert 1 <= shown < 25
    assert blocks[-2]["text"]["text"] == f"…and {25 - shown} more alerts"


def test_opsgenie_details_keep_to_8000_characters_with_long_labels(tmp_path: Path) -> None:
    with HttpReceiver(default=Reply(202, {"result": "Request will be processed"})) as receiver:
        group = msgspec.structs.replace(
            _group(20, label_chars=1000),
            common_labels={f"label{i}": "v" * 1000 for i in range(12)},
        )
        store = _deliver(receiver, "opsgenie", {"api_key": "k", "api_url": receiver.url}, group,
                         tmp_path)  # fmt: skip
        store.close()
    (alert,) = [r.json() for r in receiver.requests]
    details = alert["details"]
    assert sum(len(k) + len(v) for k, v in details.items()) <= 8000
    assert details["truncated"].startswith("…and ") and details["truncated"].endswith("details")
    assert len(alert["message"]) <= 130 and len(alert["description"]) <= 15_000
    assert len(alert["alias"]) <= 512


def test_pagerduty_event_keeps_to_512_kb_with_huge_labels(tmp_path: Path) -> None:
    with HttpReceiver(default=Reply(202, {"status": "success"})) as receiver:
        settings = {"routing_key": "R" * 32, "events_url": receiver.url}
        store = _deliver(receiver, "pagerduty", settings, _group(20, label_chars=60_000),
                         tmp_path)  # fmt: skip
        store.close()
    (request,) = receiver.requests
    assert len(request.body) <= 512 * 1024
    event = request.json()
    assert len(event["payload"]["summary"]) <= 1024
    details = event["payload"]["custom_details"]
    assert details["alerts_not_shown"] == f"…and {20 - len(details['alerts'])} more alerts"


@pytest.mark.parametrize(
    ("kind", "refusal"),
    [("pagerduty", 400), ("opsgenie", 413), ("slack", 400)],
)
def test_a_size_refusal_is_followed_by_one_minimal_payload_instead_of_a_dead_letter(
    tmp_path: Path, kind: str, refusal: int
) -> None:
    with HttpReceiver(default=Reply(202, {"status": "success"})) as receiver:
        receiver.script(Reply(refusal, {"message": "Event object is invalid"}))
        settings: dict[str, Any] = {
            "pagerduty": {"routing_key": "R" * 32, "events_url": receiver.url},
            "opsgenie": {"api_key": "k", "api_url": receiver.url},
            "slack": {"url": receiver.url},
        }[kind]
        store = _deliver(receiver, kind, settings, _group(25, text_chars=2000), tmp_path)
        (entry,) = store.outbox()
        store.close()
    full, minimal = (json.loads(r.body) for r in receiver.requests)
    assert len(receiver.requests[1].body) < len(receiver.requests[0].body) / 5
    assert entry.status == "delivered"
    if kind == "pagerduty":
        assert set(minimal["payload"]) == {"summary", "source", "severity", "timestamp"}
        assert minimal["dedup_key"] == full["dedup_key"]
    elif kind == "opsgenie":
        assert minimal["alias"] == full["alias"] and "details" not in minimal
    else:
        assert "blocks" not in minimal and minimal["text"].startswith("🟠 [FIRING:25]")


def test_a_second_size_refusal_sends_the_entry_to_the_dead_letters(tmp_path: Path) -> None:
    with HttpReceiver(default=Reply(413, "too large")) as receiver:
        settings = {"routing_key": "R" * 32, "events_url": receiver.url}
        store = _deliver(receiver, "pagerduty", settings, _group(3), tmp_path)
        (entry,) = store.outbox()
        store.close()
    assert len(receiver.requests) == 2
    assert entry.status == "dead" and "minimal" in entry.last_error
