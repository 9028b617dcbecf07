"""Payload sizes of large alert groups against each service's limits (no network).

* Slack: a 25-alert group with 2,000-character summaries and descriptions; block text in
  all (Slack refuses much over 13,000 in practice) and blocks (at most 50).
* Opsgenie: 12 labels of 1,000 characters; characters of ``details`` (at most 8,000).
* PagerDuty: 20 alerts with 60,000-character labels; bytes of the event (at most 512 KB).

Uses only functions that existed before the limits were kept, so ``PYTHONPATH`` picks
the code::

    PYTHONPATH=src .venv/bin/python bench/notifier_sizes.py
"""

from __future__ import annotations

import json
from typing import Any

from mlpulse.adapters.notify.opsgenie import opsgenie_alert
from mlpulse.adapters.notify.pagerduty import pagerduty_event
from mlpulse.adapters.notify.slack import slack_message
from mlpulse.domain.alerts import Alert, AlertState, Notification, Severity

T0 = 1_767_225_600.0


def _group(n: int, *, label_chars: int, text_chars: int, labels: int = 1) -> Notification:
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
    common = {"alertname": "drift", "model": "fraud"}
    common.update({f"label{i}": "v" * label_chars for i in range(labels - 1)})
    return Notification(
        id="n1", receiver="r", dedup_key="group-1", status="firing", severity=Severity.WARNING,
        group_labels={"alertname": "drift", "model": "fraud"}, common_labels=common,
        alerts=alerts, title="drift (model=fraud)", created_at=T0,
    )  # fmt: skip


def _text_chars(block: dict[str, Any]) -> int:
    text = block.get("text", {}).get("text", "")
    return len(text) + sum(len(f["text"]) for f in block.get("fields", ()))


def main() -> None:
    slack = slack_message(_group(25, label_chars=20, text_chars=2000))
    blocks = slack["blocks"]
    print(f"slack: {len(blocks)} blocks, {sum(map(_text_chars, blocks))} characters of block text")
    details = opsgenie_alert(_group(20, label_chars=1000, text_chars=200, labels=13))["details"]
    print(f"opsgenie: details of {sum(len(k) + len(v) for k, v in details.items())} characters")
    event = pagerduty_event(_group(20, label_chars=60_000, text_chars=200), routing_key="R" * 32)
    size = len(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode())
    print(f"pagerduty: event of {size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
