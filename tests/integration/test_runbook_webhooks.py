"""Runbook webhooks start retraining jobs: the request bodies Airflow, Dagster and Kubeflow
expect, sent to local receivers."""

from __future__ import annotations

import pytest

from mlpulse.adapters.http_poster import HttpPoster
from mlpulse.domain.alerts import Alert, AlertState, Severity
from mlpulse.domain.incidents import ActionConfig
from mlpulse.services.runbook_actions import RunbookActions
from tests.integration.receivers import HttpReceiver, Reply

ALERT = Alert(
    fingerprint="fp1", rule="drift", severity=Severity.CRITICAL, state=AlertState.FIRING,
    labels={"alertname": "drift", "model": "recs"}, annotations={}, value=0.4,
    active_since=0.0, starts_at=1.0,
)  # fmt: skip


@pytest.mark.parametrize(
    ("template", "path", "check"),
    [
        ("airflow", "/api/v1/dags/retrain_recs/dagRuns",
         lambda body: body["conf"]["labels"]["model"] == "recs" and "dag_run_id" in body),
        ("dagster", "/graphql",
         lambda body: "launchRun" in body["query"]
         and body["variables"]["executionParams"]["selector"]["jobName"] == "retrain_recs"),
        ("kubeflow", "/apis/v2beta1/runs",
         lambda body: body["pipeline_version_reference"]["pipeline_id"] == "retrain_recs"),
        ("plain", "/", lambda body: body["source"] == "mlpulse" and body["alert"] == "drift"),
    ],
)  # fmt: skip
def test_webhook_action_posts_the_orchestrators_request(template, path, check) -> None:  # type: ignore[no-untyped-def]
    poster = HttpPoster(timeout=5)
    with HttpReceiver(default=Reply(200, {"ok": True})) as receiver:
        actions = RunbookActions(routing=None, poster=poster, enqueue=None)
        action = ActionConfig(kind="webhook", url=receiver.url, template=template,
                              target="retrain_recs")  # fmt: skip
        status, detail = actions.run(action, ALERT, healthy=lambda m, v: True, now=2.0)
        assert status == "ok", detail
        (request,) = receiver.requests
        assert request.path == path and check(request.json())
    poster.close()


def test_a_failing_orchestrator_is_a_failed_action_not_a_crash() -> None:
    poster = HttpPoster(timeout=5)
    with HttpReceiver(default=Reply(500, "down")) as receiver:
        actions = RunbookActions(routing=None, poster=poster, enqueue=None)
        action = ActionConfig(kind="webhook", url=receiver.url, template="airflow", target="x")
        status, detail = actions.run(action, ALERT, healthy=lambda m, v: True, now=2.0)
    assert status == "failed" and "500" in detail
    poster.close()
