"""Rules → alerts → routing → a webhook, through a real collector, with the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import httpx
import numpy as np

from mlpulse import Client
from tests.conftest import RunningCollector
from tests.integration.receivers import HttpReceiver


def _wait_for(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.time() + timeout
    while True:
        found = check()
        if found or time.time() > deadline:
            return found
        time.sleep(0.2)


def _cli(collector: RunningCollector, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLPULSE_URL": collector.url, "MLPULSE_API_KEY": collector.admin_key}
    return subprocess.run(
        [sys.executable, "-m", "mlpulse", *args], capture_output=True, text=True, env=env
    )


def test_slow_model_fires_a_latency_alert_to_the_webhook_and_the_cli_acks_it(
    collector: RunningCollector,
) -> None:
    admin = collector.headers(collector.admin_key)
    with HttpReceiver() as receiver:
        config = {
            "version": 1,
            "monitors": {"slow-p99": {"model": "slow", "check": "latency", "metric": "p99",
                                      "window": "1h"}},
            "rules": {"latency-high": {
                "kind": "threshold", "series": "mlpulse_latency_seconds",
                "match": {"model": "slow"}, "op": ">", "value": 0.1, "severity": "critical",
                "annotations": {"summary": "{{ $labels.model }} p99 is {{ $value }} s"}}},
            "receivers": {"hook": {"kind": "webhook",
                                   "settings": {"url": receiver.url + "/alerts", "secret": "s3"}}},
            "route": {"receiver": "hook", "group_wait": "1s", "group_by": ["alertname", "model"]},
        }  # fmt: skip
        applied = httpx.put(f"{collector.url}/v1/config", json=config, headers=admin)
        assert applied.status_code == 200, applied.text
        rng = np.random.default_rng(0)
        now = time.time()
        with Client(collector.url, collector.ingest_key) as client:
            for i in range(600):  # 30 to 5 minutes ago: closed minutes
                client.log_prediction("slow", "v1", {"x": 1.0}, 1.0,
                                      latency_ms=float(rng.gamma(20, 10)),
                                      timestamp=now - 1800 + i * 2.5)  # fmt: skip
            assert client.flush(timeout=30)

        def fired() -> list[Any]:
            httpx.post(f"{collector.url}/v1/evaluator/tick", headers=admin)
            return [r for r in receiver.requests if r.json()["status"] == "firing"]

        (request,) = _wait_for(fired)
        body = request.json()
        assert request.path == "/alerts" and body["version"] == "4"
        assert body["commonLabels"]["alertname"] == "latency-high"
        assert body["alerts"][0]["annotations"]["summary"].startswith("slow p99 is ")
        assert request.headers["x-mlpulse-signature"].startswith("sha256=")

        listed = _cli(collector, "alerts", "list", "--state", "firing")
        assert listed.returncode == 0 and "latency-high" in listed.stdout
        fp = httpx.get(f"{collector.url}/v1/alerts", headers=admin).json()["alerts"][0]
        acked = _cli(collector, "alerts", "ack", fp["fingerprint"])
        assert acked.returncode == 0, acked.stderr
        after = httpx.get(f"{collector.url}/v1/alerts", headers=admin).json()["alerts"][0]
        assert after["acknowledged_by"] == "admin"

        silenced = _cli(collector, "silences", "add", "--match", "model=other",
                        "--comment", "maintenance", "--duration", "1h")  # fmt: skip
        assert silenced.returncode == 0, silenced.stderr
        assert "maintenance" in _cli(collector, "silences", "list").stdout
        dead = _cli(collector, "outbox", "--status", "dead")
        assert dead.returncode == 0


def test_alertmanager_webhook_alerts_enter_the_same_routing(collector: RunningCollector) -> None:
    admin = collector.headers(collector.admin_key)
    with HttpReceiver() as receiver:
        config = {
            "version": 1,
            "receivers": {"hook": {"kind": "webhook", "settings": {"url": receiver.url}}},
            "route": {"receiver": "hook", "group_wait": "1s"},
        }
        assert httpx.put(f"{collector.url}/v1/config", json=config, headers=admin).is_success
        payload = {
            "version": "4", "status": "firing", "receiver": "mlpulse", "groupLabels": {},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [{"status": "firing", "labels": {"alertname": "NodeDown",
                        "instance": "gpu-1", "severity": "critical"},
                        "annotations": {"summary": "gpu-1 is down"},
                        "startsAt": "2026-11-27T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}],
        }  # fmt: skip
        made = httpx.post(f"{collector.url}/v1/keys", json={"scopes": ["alertmanager"]},
                          headers=admin)  # fmt: skip
        intake = collector.headers(made.json()["token"])
        sent = httpx.post(f"{collector.url}/v1/alertmanager/webhook", json=payload,
                          headers=intake)  # fmt: skip
        assert sent.status_code == 200 and sent.json() == {"accepted": 1}
        requests = _wait_for(lambda: receiver.requests)
        assert requests[0].json()["alerts"][0]["labels"]["instance"] == "gpu-1"

        def delivered_metrics() -> str | None:
            text = httpx.get(f"{collector.url}/metrics", headers=admin).text
            return text if 'mlpulse_notifications_sent_total{receiver="hook"} 1.0' in text else None

        metrics = _wait_for(delivered_metrics)
        assert "# TYPE mlpulse_outbox_oldest_pending_age_seconds gauge" in metrics
        bad = httpx.post(
            f"{collector.url}/v1/alertmanager/webhook", json={"alerts": [{"status": "maybe",
            "labels": {}}]}, headers=intake,
        )  # fmt: skip
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "alerts[0].status"


def test_put_config_reports_receiver_settings_that_cannot_work_and_reads_text_numbers(
    collector: RunningCollector,
) -> None:
    admin = collector.headers(collector.admin_key)
    mail = {"to": "ana@example.com", "from": "mlpulse@example.com", "host": "smtp.example.com"}
    config: dict[str, Any] = {
        "version": 1,
        "receivers": {"mail": {"kind": "email", "settings": {**mail, "port": "587x"}}},
        "runbooks": {"tell": {"match": {}, "actions": [{"kind": "notify", "receiver": "pager"}],
                              "cooldown": "soon"}},
    }  # fmt: skip
    refused = httpx.put(f"{collector.url}/v1/config", json=config, headers=admin)
    assert refused.status_code == 422
    message = refused.json()["error"]["message"]
    assert "receivers.mail.settings.port: must be an int in [1, 65535]; got '587x'" in message
    assert "runbooks.tell.cooldown: must be a duration" in message
    assert "runbooks.tell.actions[0].receiver: no receiver named 'pager'" in message
    # Numbers as text, as `mlpulse apply` sends what it read from mlpulse.yaml.
    config["receivers"]["mail"]["settings"].update(port="2525", starttls="false")
    config["runbooks"]["tell"].update(
        cooldown="10m", actions=[{"kind": "notify", "receiver": "mail"}]
    )
    config["users"] = {"ana": {"receiver": "mail"}}
    config["escalation_policies"] = {"critical": {"repeat": "1", "steps": [
        {"delay_minutes": "0", "targets": ["user:ana"]}]}}  # fmt: skip
    applied = httpx.put(f"{collector.url}/v1/config", json=config, headers=admin)
    assert applied.status_code == 200, applied.text
    assert applied.json()["plan"].splitlines() == [
        "+ receiver mail", "+ user ana", "+ runbook tell", "+ alerting escalation_policies",
        "Plan: 4 to create, 0 to update, 0 to delete.",
    ]  # fmt: skip
