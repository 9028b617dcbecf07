"""What a runbook action does: roll back, shift traffic, open a circuit, call a webhook.

Actions reach the outside through small protocols (the registry's routing control, an
HTTP poster, the notification queue), so tests run them against fakes or local
receivers. Every action returns ``(status, detail)``; nothing here raises for an
outside failure, it reports it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from mlpulse.domain.alerts import Alert, Notification
from mlpulse.domain.incidents import ActionConfig

# Request bodies of the orchestrators' "run this now" APIs (their REST documentation):
# Airflow POST /api/v1/dags/{dag_id}/dagRuns, Dagster POST /graphql (launchRun),
# Kubeflow Pipelines POST /apis/v2beta1/runs.
_PATHS = {
    "airflow": "/api/v1/dags/{target}/dagRuns",
    "dagster": "/graphql",
    "kubeflow": "/apis/v2beta1/runs",
    "plain": "",
}
_DAGSTER_LAUNCH = (
    "mutation LaunchRun($executionParams: ExecutionParams!) "
    "{ launchRun(executionParams: $executionParams) { __typename } }"
)


class RoutingControl(Protocol):
    """The registry, as runbooks use it."""

    def rollback(
        self,
        model: str,
        *,
        actor: str,
        to_version: str | None = None,
        healthy: Callable[[str], bool] = ...,
        reason: str = "",
    ) -> Any: ...

    def shift_traffic(self, model: str, weights: Mapping[str, int], *, actor: str) -> Any: ...

    def open_circuit(self, model: str, version: str, *, actor: str) -> Any: ...


class Poster(Protocol):
    def post(self, url: str, body: Mapping[str, Any]) -> tuple[int | None, str]:
        """POST JSON; (status code or None when unreachable, a short detail)."""
        ...


def webhook_request(action: ActionConfig, alert: Alert) -> tuple[str, dict[str, Any]]:
    """The URL and JSON body an orchestrator's API expects to start ``action.target``.

    >>> from mlpulse.domain.alerts import AlertState, Severity
    >>> a = Alert("fp", "drift", Severity.CRITICAL, AlertState.FIRING, {"model": "m"}, {},
    ...           0.5, 0.0)
    >>> webhook_request(ActionConfig(kind="webhook", url="http://af", template="airflow",
    ...                              target="retrain"), a)[0]
    'http://af/api/v1/dags/retrain/dagRuns'
    """
    url = (action.url or "").rstrip("/") + _PATHS[action.template].format(target=action.target)
    context = {"alert": alert.labels.get("alertname", alert.rule), "labels": dict(alert.labels),
               "fingerprint": alert.fingerprint, "value": alert.value}  # fmt: skip
    if action.template == "airflow":
        return url, {"dag_run_id": f"mlpulse-{uuid.uuid4().hex[:12]}", "conf": context}
    if action.template == "dagster":
        params = {"selector": {"jobName": action.target}, "runConfigData": {}}
        return url, {"query": _DAGSTER_LAUNCH, "variables": {"executionParams": params}}
    if action.template == "kubeflow":
        return url, {
            "display_name": f"mlpulse {context['alert']}",
            "pipeline_version_reference": {"pipeline_id": action.target},
            "runtime_config": {"parameters": {"mlpulse_alert": context}},
        }
    return url, {"source": "mlpulse", **context}


class RunbookActions:
    def __init__(
        self,
        *,
        routing: RoutingControl | None,
        poster: Poster | None,
        enqueue: Callable[[Notification], None] | None,
        pause: Callable[[str, str], object] | None = None,
    ) -> None:
        self._routing = routing
        self._poster = poster
        self._enqueue = enqueue
        self._pause = pause  # stops an experiment: (name, reason)

    def run(
        self, action: ActionConfig, alert: Alert, *, healthy: Callable[[str, str], bool], now: float
    ) -> tuple[str, str]:
        model = action.model or alert.labels.get("model", "")
        try:
            return self._run(action, alert, model, healthy, now)
        except Exception as exc:  # an action's failure is its outcome, not a crash
            return "failed", f"{type(exc).__name__}: {exc}"

    def _run(
        self,
        action: ActionConfig,
        alert: Alert,
        model: str,
        healthy: Callable[[str, str], bool],
        now: float,
    ) -> tuple[str, str]:
        kind = action.kind
        if kind in ("rollback", "shift_traffic", "open_circuit"):
            if self._routing is None:
                return "failed", "no model registry to act on"
            if not model:
                return "failed", "the alert has no model label and the action names none"
        if kind == "rollback":
            assert self._routing is not None
            result = self._routing.rollback(
                model, actor="runbook", to_version=action.to,
                healthy=lambda version: healthy(model, version),
                reason=f"alert {alert.labels.get('alertname', alert.rule)}",
            )  # fmt: skip
            return "ok", f"rolled {model} back: {result}"
        if kind == "shift_traffic":
            assert self._routing is not None
            self._routing.shift_traffic(model, action.weights, actor="runbook")
            return "ok", f"traffic of {model}: {dict(action.weights)}"
        if kind == "open_circuit":
            assert self._routing is not None
            version = alert.labels.get("version")
            if not version:
                return "failed", "the alert has no version label"
            self._routing.open_circuit(model, version, actor="runbook")
            return "ok", f"{model}/{version} taken out of rotation"
        if kind == "pause_experiment":
            if self._pause is None or not action.experiment:
                return "failed", "no experiment to pause"
            name = alert.labels.get("alertname", alert.rule)
            self._pause(action.experiment, f"paused by runbook on alert {name}")
            return "ok", f"experiment {action.experiment} stopped"
        if kind == "webhook":
            if self._poster is None or not action.url:
                return "failed", "no URL to call"
            url, body = webhook_request(action, alert)
            status, detail = self._poster.post(url, body)
            ok = status is not None and 200 <= status < 300
            return ("ok" if ok else "failed"), f"POST {url}: {status or 'unreachable'} {detail}"
        if self._enqueue is None or not action.receiver:
            return "failed", "no receiver to notify"
        self._enqueue(
            Notification(
                id=uuid.uuid4().hex,
                receiver=action.receiver,
                dedup_key=f"mlpulse-runbook-{alert.fingerprint}",
                status="firing",
                severity=alert.severity,
                group_labels={},
                common_labels=dict(alert.labels),
                alerts=[alert],
                title=f"runbook: {alert.labels.get('alertname', alert.rule)}",
                created_at=now,
            )
        )
        return "ok", f"notified {action.receiver}"
