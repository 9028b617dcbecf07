"""`mlpulse plan` and `apply` warn about names nothing matches; a paging monitor alerts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from mlpulse import Client
from tests.conftest import RunningCollector
from tests.integration.receivers import HttpReceiver

TYPOS = """\
version: 1
monitors:
  cancer-drift:
    model: cancr
    check: drift
    columns: [mean radiu]
rules:
  share:
    kind: threshold
    series: mlpulse_drift_shar
    op: ">"
    value: 0.5
  p99:
    kind: threshold
    series: mlpulse_latency_seconds
    match: {model: cancer, percentile: "0.99"}
    op: ">"
    value: 500
"""


def _cli(url: str, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLPULSE_URL": url, "MLPULSE_API_KEY": key, "COLUMNS": "300"}
    return subprocess.run(
        [sys.executable, "-m", "mlpulse", *args], capture_output=True, text=True, env=env
    )


def _send_cancer(collector: RunningCollector) -> None:
    with Client(collector.url, collector.ingest_key) as client:
        for i in range(20):
            client.log_prediction("cancer", "v1", {"mean radius": 14.0 + i, "mean texture": 19.0},
                                  1, latency_ms=20.0)  # fmt: skip
        assert client.flush(timeout=30)


def _wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.time() + timeout
    while True:
        found = check()
        if found or time.time() > deadline:
            return found
        time.sleep(0.2)


def test_plan_warns_with_did_you_mean_and_exits_1_only_with_strict(
    collector: RunningCollector, tmp_path: Path
) -> None:
    _send_cancer(collector)
    admin = collector.headers(collector.admin_key)
    assert _wait_for(
        lambda: httpx.get(f"{collector.url}/v1/models", headers=admin).json()["models"]
    )
    config = tmp_path / "mlpulse.yaml"
    config.write_text(TYPOS)

    planned = _cli(collector.url, collector.admin_key, "plan", "-f", str(config))
    assert planned.returncode == 0, planned.stderr
    assert "+ rule share" in planned.stdout
    warnings = [line for line in planned.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 3, planned.stderr
    text = planned.stderr
    assert "monitors.cancer-drift.model: no model named 'cancr'; did you mean 'cancer'?" in text
    assert "monitors.cancer-drift.columns[0]: model 'cancr' has no column" not in text
    assert (
        "rules.share.series: the collector writes no series named 'mlpulse_drift_shar'; "
        "did you mean 'mlpulse_drift_share'?" in text
    )
    assert (
        "rules.p99.match.percentile: mlpulse_latency_seconds never has percentile '0.99' "
        "(its values: p50, p95, p99)" in text
    )

    strict = _cli(collector.url, collector.admin_key, "plan", "-f", str(config), "--strict")
    assert strict.returncode == 1 and "3 warning(s) with --strict" in strict.stderr
    refused = _cli(collector.url, collector.admin_key, "apply", "-f", str(config), "--strict")
    assert refused.returncode == 1 and "nothing applied" in refused.stderr
    assert httpx.get(f"{collector.url}/v1/config", headers=admin).json()["config"] is None

    # The collector answers PUT /v1/config with the same warnings, and applies.
    fixed = TYPOS.replace("model: cancr", "model: cancer")
    config.write_text(fixed)
    applied = _cli(collector.url, collector.admin_key, "apply", "-f", str(config))
    assert applied.returncode == 0, applied.stderr
    assert (
        "columns[0]: model 'cancer' has no column 'mean radiu'; did you mean 'mean radius'?"
        in applied.stderr
    )
    assert (
        "rules.share.series" in applied.stderr
        and "monitors.cancer-drift.model" not in applied.stderr
    )


def test_plan_offline_checks_series_names_without_a_collector(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    config = tmp_path / "mlpulse.yaml"
    config.write_text(TYPOS)
    planned = _cli(url, "none", "plan", "-f", str(config), "--offline")
    assert planned.returncode == 0, planned.stderr
    assert "offline" in planned.stdout
    assert "rules.share.series" in planned.stderr and "rules.p99.match.percentile" in planned.stderr
    # Offline the collector's models are unknown: cancr is not called a typo.
    assert "cancr" not in planned.stderr
    strict = _cli(url, "none", "plan", "-f", str(config), "--offline", "--strict")
    assert strict.returncode == 1


def test_monitor_with_page_alerts_when_its_status_is_critical(collector: RunningCollector) -> None:
    admin = collector.headers(collector.admin_key)
    with HttpReceiver() as receiver:
        config = {
            "version": 1,
            "monitors": {"slow-p99": {"model": "slow", "check": "latency", "metric": "p99",
                                      "window": "1h", "warning": 50, "critical": 100,
                                      "page": True}},
            "receivers": {"hook": {"kind": "webhook", "settings": {"url": receiver.url}}},
            "route": {"receiver": "hook", "group_wait": "1s"},
        }  # fmt: skip
        applied = httpx.put(f"{collector.url}/v1/config", json=config, headers=admin)
        assert applied.status_code == 200, applied.text
        assert (
            "+ rule slow-p99-page (derived from monitors.slow-p99.page)" in applied.json()["plan"]
        )
        rng = np.random.default_rng(0)
        now = time.time()
        with Client(collector.url, collector.ingest_key) as client:
            for i in range(600):  # 30 to 5 minutes ago: closed minutes; p99 near 300 ms
                client.log_prediction("slow", "v1", {"x": 1.0}, 1.0,
                                      latency_ms=float(rng.gamma(20, 10)),
                                      timestamp=now - 1800 + i * 2.5)  # fmt: skip
            assert client.flush(timeout=30)

        def fired() -> list[Any]:
            httpx.post(f"{collector.url}/v1/evaluator/tick", headers=admin)
            return [r for r in receiver.requests if r.json()["status"] == "firing"]

        (request,) = _wait_for(fired)
        alert = request.json()["alerts"][0]
        assert alert["labels"]["alertname"] == "slow-p99-page"
        assert alert["labels"]["severity"] == "critical"
        assert alert["annotations"]["summary"].startswith("slow: monitor slow-p99 is critical")
