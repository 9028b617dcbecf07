"""`mlpulse incidents show` and `reject` against a local receiver answering as the collector."""

from __future__ import annotations

from typer.testing import CliRunner

from mlpulse.cli.main import app
from tests.integration.receivers import HttpReceiver, Reply

FAILED = "NoRollbackTargetError: no earlier champion [model=recs]"
INCIDENT = {
    "incident": {
        "id": "i1", "title": "errors-up (recs/v2)", "model": "recs", "severity": "critical",
        "status": "triggered", "onset_at": 1_767_225_600.0, "opened_at": 1_767_225_601.0,
        "updated_at": 1_767_225_602.0, "onset_method": "crossing",
        "timeline": [{"at": 1_767_225_602.0, "kind": "action", "text": "rollback: rollback failed",
                      "data": {"detail": FAILED}}],
    },
    "times": {},
}  # fmt: skip


def test_incidents_show_prints_why_an_action_failed_and_how_the_onset_was_estimated() -> None:
    with HttpReceiver(Reply(200, INCIDENT)) as collector:
        shown = CliRunner().invoke(app, ["incidents", "show", "i1", "--url", collector.url,
                                         "--api-key", "k"])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "rollback: rollback failed" in shown.output
    assert FAILED in shown.output
    assert "where the series crossed the rule's threshold" in shown.output


def test_incidents_reject_sends_the_reason_and_reports_a_refusal() -> None:
    refused = {"error": {"type": "conflict", "message": "approval a1 is approved by ana"}}
    with HttpReceiver(Reply(409, refused)) as collector:
        result = CliRunner().invoke(app, ["incidents", "reject", "a1", "--reason", "blip",
                                          "--url", collector.url, "--api-key", "k"])  # fmt: skip
        (request,) = collector.requests
    assert result.exit_code == 1
    assert request.path == "/v1/incidents/approvals/a1/reject"
    assert request.json() == {"reason": "blip"}
    assert "409: approval a1 is approved by ana" in result.output
