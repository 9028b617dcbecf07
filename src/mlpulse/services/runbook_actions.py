"""What a runbook action does: roll back, shift traffic, open a circuit, call a webhook.

Actions reach the outside through small protocols (the registry's routing control, an
HTTP poster, the notification queue), so tests run them against fakes or local
receivers. Every action returns ``(status, detail)``; nothing here raises for an
outside failure, it reports it. With ``dry_run`` an action reports the exact request it
would make (the routing table it would set, the URL and JSON body it would POST) and
changes nothing.

A ``rollback`` acts on the version that failed, the alert's ``version`` label: a
challenger or shadow is taken out of traffic (archived, its weight to the champion),
the champion is rolled back. Without a ``version`` label the failing version is known
only when the champion is the one version serving (then it is rolled back); otherwise
the action is skipped, saying why, rather than guessing and removing a healthy version.
"""

from __future__ import annotations

import json
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
    """The registry, as runbooks use it (see ``mlpulse.server.registry_control``)."""

    def serving(self, model: str) -> Mapping[str, tuple[str, int]]:
        """Version → (stage, weight) of the versions in the model's routing table."""
        ...

    def rollback(
        self,
        model: str,
        *,
        actor: str,
        to_version: str | None = None,
        healthy: Callable[[str], bool] = ...,
        reason: str = "",
        dry_run: bool = False,
    ) -> Any: ...

    def retire(
        self, model: str, version: str, *, actor: str, reason: str = "", dry_run: bool = False
    ) -> Any: ...

    def shift_traffic(
        self, model: str, weights: Mapping[str, int], *, actor: str, dry_run: bool = False
    ) -> Any: ...

    def open_circuit(
        self, model: str, version: str, *, actor: str, dry_run: bool = False
    ) -> Any: ...


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

    def serving(self, model: str) -> Mapping[str, tuple[str, int]] | None:
        """Version → (stage, weight) in ``model``'s routing table; None without a registry."""
        return None if self._routing is None else self._routing.serving(model)

    def run(
        self,
        action: ActionConfig,
        alert: Alert,
        *,
        healthy: Callable[[str, str], bool],
        now: float,
        dry_run: bool = False,
    ) -> tuple[str, str]:
        model = action.model or alert.labels.get("model", "")
        try:
            return self._run(action, alert, model, healthy, now, dry_run)
        except Exception as exc:  # an action's failure is its outcome, not a crash
            return "failed", f"{type(exc).__name__}: {exc}"

    def _run(
        self,
        action: ActionConfig,
        alert: Alert,
        model: str,
        healthy: Callable[[str, str], bool],
        now: float,
        dry_run: bool,
    ) -> tuple[str, str]:
        kind = action.kind
        done = "dry_run" if dry_run else "ok"
        if kind in ("rollback", "shift_traffic", "open_circuit"):
            if self._routing is None:
                return "failed", "no model registry to act on"
            if not model:
                return "failed", "the alert has no model label and the action names none"
        if kind == "rollback":
            assert self._routing is not None
            return self._rollback(self._routing, action, alert, model, healthy, dry_run)
        if kind == "shift_traffic":
            assert self._routing is not None
            if not action.weights:  # refused at validation; kept for a config from elsewhere
                return "failed", "shift_traffic without weights changes nothing"
            result = self._routing.shift_traffic(
                model, action.weights, actor="runbook", dry_run=dry_run
            )
            verb = "would shift traffic of" if dry_run else "shifted traffic of"
            return done, f"{verb} {model} to {dict(action.weights)}: {result}"
        if kind == "open_circuit":
            assert self._routing is not None
            version = alert.labels.get("version")
            if not version:
                return "failed", "the alert has no version label"
            result = self._routing.open_circuit(model, version, actor="runbook", dry_run=dry_run)
            verb = "would take" if dry_run else "took"
            return done, f"{verb} {model}/{version} out of rotation: {result}"
        if kind == "pause_experiment":
            if self._pause is None or not action.experiment:
                return "failed", "no experiment to pause"
            if dry_run:
                return done, f"would stop experiment {action.experiment}"
            name = alert.labels.get("alertname", alert.rule)
            self._pause(action.experiment, f"paused by runbook on alert {name}")
            return "ok", f"experiment {action.experiment} stopped"
        if kind == "webhook":
            if self._poster is None or not action.url:
                return "failed", "no URL to call"
            url, body = webhook_request(action, alert)
            if dry_run:
                return done, f"would POST {url} {json.dumps(body, sort_keys=True)}"
            status, detail = self._poster.post(url, body)
            ok = status is not None and 200 <= status < 300
            return ("ok" if ok else "failed"), f"POST {url}: {status or 'unreachable'} {detail}"
        if self._enqueue is None or not action.receiver:
            return "failed", "no receiver to notify"
        if dry_run:
            return done, f"would notify {action.receiver}"
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

    @staticmethod
    def _rollback(
        routing: RoutingControl,
        action: ActionConfig,
        alert: Alert,
        model: str,
        healthy: Callable[[str, str], bool],
        dry_run: bool,
    ) -> tuple[str, str]:
        """Take out the version that failed; roll back only a failing champion."""
        done = "dry_run" if dry_run else "ok"
        reason = f"alert {alert.labels.get('alertname', alert.rule)}"
        version = alert.labels.get("version")
        serving = routing.serving(model)
        champion = next((v for v, (stage, _) in serving.items() if stage == "champion"), None)
        if version:
            if version not in serving:
                return "skipped", f"{model}/{version} is not in the routing table any more"
            if version != champion:
                result = routing.retire(
                    model, version, actor="runbook", reason=reason, dry_run=dry_run
                )
                verb = "would take" if dry_run else "took"
                return done, f"{verb} {model}/{version} out of traffic: {result}"
        elif action.to is None:
            live = sorted(v for v, (stage, weight) in serving.items()
                          if stage != "champion" and weight > 0)  # fmt: skip
            if live:
                return "skipped", (
                    f"the alert has no version label and {model} serves {champion} and "
                    f"{', '.join(live)}: the failing version is unknown, so nothing is rolled "
                    "back (label the rule's series with version, or name the target with `to`)"
                )
        result = routing.rollback(
            model, actor="runbook", to_version=action.to,
            healthy=lambda v: healthy(model, v), reason=reason, dry_run=dry_run,
        )  # fmt: skip
        verb = "would roll" if dry_run else "rolled"
        return done, f"{verb} {model} back: {result}"
