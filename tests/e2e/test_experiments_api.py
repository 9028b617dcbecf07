"""An experiment over real HTTP, the real SDK and the real CLI: assign, log, read results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import numpy as np

import mlpulse

if TYPE_CHECKING:
    from tests.conftest import RunningCollector

SPEC = {
    "name": "checkout-e2e",
    "model": "shop",
    "variants": {"A": "v1", "B": "v2"},
    "allocation": {"A": 50, "B": 50},
    "control": "A",
    "unit": "user",
    "primary": {"name": "purchase", "kind": "proportion", "direction": "increase"},
    "guardrails": [
        {"name": "latency_ms", "kind": "mean", "direction": "decrease", "per_unit": "mean"}
    ],
    "exposure": "exposure",
}


def _mlpulse(collector: RunningCollector, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLPULSE_URL": collector.url, "MLPULSE_API_KEY": collector.admin_key}
    return subprocess.run(
        [sys.executable, "-m", "mlpulse", *args], capture_output=True, text=True, env=env
    )


def test_experiment_results_show_b_better_when_b_converts_more(
    collector: RunningCollector, tmp_path: Path
) -> None:
    admin_headers = collector.headers(collector.admin_key)
    ingest_headers = collector.headers(collector.ingest_key)
    with (
        httpx.Client(base_url=collector.url, headers=admin_headers) as admin,
        httpx.Client(base_url=collector.url, headers=ingest_headers) as serving,
    ):
        _run(collector, admin, serving, tmp_path)


def _run(
    collector: RunningCollector, admin: httpx.Client, serving: httpx.Client, tmp_path: Path
) -> None:
    created = admin.post("/v1/experiments", json=SPEC)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "draft"
    assert admin.post("/v1/experiments/checkout-e2e/start").json()["status"] == "running"
    rng = np.random.default_rng(7)
    client = mlpulse.Client(collector.url, collector.ingest_key)
    seen: dict[str, int] = {"A": 0, "B": 0}
    for i in range(600):
        unit = f"user-{i}"
        answer = serving.get("/v1/experiments/checkout-e2e/assignment", params={"unit": unit})
        assert answer.status_code == 200, answer.text
        variant, version = answer.json()["variant"], answer.json()["version"]
        assert answer.json()["enrolled"] is True
        seen[variant] += 1
        client.log_outcome("exposure", unit_id=unit, model="shop", version=version)
        client.log_outcome("latency_ms", float(rng.normal(120, 15)), unit_id=unit, model="shop")
        if rng.random() < (0.35 if variant == "B" else 0.10):
            client.log_outcome("purchase", 1.0, unit_id=unit, model="shop", version=version)
    assert client.flush(timeout=10.0)
    client.close()

    results = admin.get("/v1/experiments/checkout-e2e/results")

    assert results.status_code == 200, results.text
    body = results.json()
    assert body["units"] == 600
    assert body["srm"]["observed"] == seen
    purchase = body["metrics"][0]
    assert purchase["name"] == "purchase"
    b = purchase["variants"][1]
    assert (b["variant"], b["version"], b["outcome"]) == ("B", "v2", "better")
    assert b["ci"][0] > 0 and b["adjusted_p_value"] < 0.05
    assert body["verdict"].startswith("B is better on purchase by +")
    assert "guardrails hold" in body["verdict"]

    report = admin.get("/v1/experiments/checkout-e2e/report")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    assert "<table>" in report.text and "<script" not in report.text
    assert "B is better on purchase" in report.text

    cli = _mlpulse(collector, "experiments", "results", "checkout-e2e")
    assert cli.returncode == 0, cli.stderr
    assert "B is better on purchase" in cli.stdout
    assert "purchase (primary)" in cli.stdout
    out = tmp_path / "report.html"
    written = _mlpulse(collector, "experiments", "report", "checkout-e2e", "-o", str(out))
    assert written.returncode == 0, written.stderr
    assert "<table>" in out.read_text()


def test_cli_creates_lists_starts_and_stops_an_experiment_from_yaml(
    shared_collector: RunningCollector, tmp_path: Path
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: cli-exp\nmodel: shop\nvariants: {A: v1, B: v2}\nallocation: {A: 1, B: 1}\n"
        "control: A\nprimary: {name: purchase}\n"
    )

    created = _mlpulse(shared_collector, "experiments", "create", "-f", str(spec))
    started = _mlpulse(shared_collector, "experiments", "start", "cli-exp")
    listed = _mlpulse(shared_collector, "experiments", "list")
    stopped = _mlpulse(shared_collector, "experiments", "stop", "cli-exp", "--reason", "done")
    again = _mlpulse(shared_collector, "experiments", "create", "-f", str(spec))

    assert created.returncode == 0, created.stderr
    assert "cli-exp is running" in started.stderr
    assert "cli-exp" in listed.stdout and "running" in listed.stdout
    assert "cli-exp is stopped: done" in stopped.stderr
    assert again.returncode == 1 and "exists already" in again.stderr
