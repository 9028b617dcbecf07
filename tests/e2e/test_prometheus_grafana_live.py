"""A real Prometheus (Debian's ``prometheus``, loopback, temporary storage, 1 s scrapes)
scrapes a collector while it serves simulated traffic, with the exported rules loaded:
the exported paging rule fires in Prometheus, and every query of every exported Grafana
panel returns series.

The collector runs on a simulated clock (tests/e2e/simulated_collector.py): a quarter of
an hour of fraud traffic, with labels, drifted from its reference and slower than its
latency monitor's critical threshold, takes a few wall seconds; Prometheus scrapes
throughout on the wall clock.
"""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlpulse.adapters.export.grafana_dashboards import grafana_dashboards, resolved_query
from mlpulse.adapters.export.prometheus_rules import prometheus_rules
from mlpulse.domain.config_decode import decode_config
from mlpulse.testing.process import free_port
from tests.e2e.simulated_collector import SimulatedCollector
from tests.prometheus_tools import prometheus_tool

pytestmark = pytest.mark.slow

MODEL = "fraud"
CONFIG: dict[str, Any] = {
    "version": 1,
    "models": {MODEL: {"task": "binary_classification"}},
    "monitors": {
        "fraud-drift": {"model": MODEL, "check": "drift", "window": "5m", "every": "1m",
                        "method": "psi", "warning": 0.1, "critical": 0.2},
        "fraud-prediction-drift": {"model": MODEL, "check": "prediction_drift", "window": "5m",
                                   "every": "1m", "method": "psi", "warning": 0.1,
                                   "critical": 0.25},
        "fraud-p99": {"model": MODEL, "check": "latency", "metric": "p99", "window": "5m",
                      "every": "1m", "warning": 100.0, "critical": 200.0, "page": True},
        "fraud-errors": {"model": MODEL, "check": "errors", "window": "5m", "every": "1m",
                         "warning": 0.01, "critical": 0.05},
        "fraud-auc": {"model": MODEL, "check": "performance", "metric": "roc_auc",
                      "window": "5m", "every": "1m", "warning": 0.8, "critical": 0.6},
        "fraud-cbpe": {"model": MODEL, "check": "estimated_performance", "metric": "roc_auc",
                       "window": "5m", "every": "1m", "warning": 0.8, "critical": 0.6},
    },
    # An unreachable receiver: the page stays in the outbox (the overview graphs it).
    "receivers": {"sink": {"kind": "webhook", "settings": {"url": "http://127.0.0.1:9/hook"}}},
    "route": {"receiver": "sink"},
}  # fmt: skip


def _which(name: str) -> str:
    return prometheus_tool(name)


def _reference(rng: np.random.Generator, n: int = 5_000) -> bytes:
    score = rng.beta(2, 5, n)
    label = (rng.random(n) < score).astype(np.int64)
    table = pa.table({"amount": rng.normal(0.0, 1.0, n), "score": score, "is_fraud": label,
                      "prediction": (score > 0.5).astype(np.int64)})  # fmt: skip
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


class Prometheus:
    """``prometheus`` on a free loopback port, scraping ``target`` every second."""

    def __init__(self, folder: Path, *, target: str, token: str, rules: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [{
                "job_name": "mlpulse", "metrics_path": "/metrics",
                "authorization": {"type": "Bearer", "credentials": token},
                "static_configs": [{"targets": [target]}],
            }],
        }  # fmt: skip
        (folder / "prometheus.yml").write_bytes(msgspec.json.encode(config))
        self._args = [
            _which("prometheus"), f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]  # fmt: skip
        self._log = folder / "prometheus.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Prometheus:
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(self._args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"prometheus did not start: {self._log.read_text()[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)

    def query(self, expr: str) -> list[dict[str, Any]]:
        found = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10.0)
        assert found.status_code == 200, f"{expr}: {found.text}"
        result: list[dict[str, Any]] = found.json()["data"]["result"]
        return result

    def targets_up(self) -> bool:
        return any(s["value"][1] == "1" for s in self.query('up{job="mlpulse"}'))


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, Any]]:
    folder = tmp_path_factory.mktemp("prometheus-live")
    config, problems = decode_config(CONFIG, strict=False)
    assert not problems, problems
    rules = folder / "rules.yaml"
    rules.write_text(prometheus_rules(config).yaml())
    rng = np.random.default_rng(17)
    with SimulatedCollector(folder / "collector") as sim:
        upload = sim.admin.post(
            f"/v1/models/{MODEL}/reference", content=_reference(rng),
            params={"name": "train.parquet", "label_column": "is_fraud",
                    "score_column": "score", "prediction_column": "prediction"},
            headers={"Content-Type": "application/vnd.apache.parquet"},
        )  # fmt: skip
        assert upload.status_code == 201, upload.text
        sim.admin.put("/v1/config", json=CONFIG).raise_for_status()
        target = str(sim.admin.base_url).removeprefix("http://").rstrip("/")
        with Prometheus(folder, target=target, token=sim.admin_key, rules=rules) as prom:
            _serve(sim, rng, minutes=15)
            deadline = time.monotonic() + 30.0
            while not prom.targets_up() and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(3.0)  # a few more scrapes and rule evaluations
            yield prom, sim


def _serve(sim: SimulatedCollector, rng: np.random.Generator, *, minutes: int) -> None:
    """Drifted (amount +1.5), slow (p99 past 200 ms) traffic with labels, 30 s a step."""
    n = 150
    for step in range(minutes * 2):
        t0 = sim.now
        score = rng.beta(2, 5, n)
        label = (rng.random(n) < score).astype(int)
        latency = rng.lognormal(np.log(150.0), 0.5, n)
        for i in range(n):
            request_id = f"r{step}-{i}"
            sim.client.log_prediction(
                MODEL, "v1", {"amount": float(rng.normal(1.5, 1.0))}, int(score[i] > 0.5),
                request_id=request_id, score=float(score[i]), latency_ms=float(latency[i]),
                error="timeout" if i % 40 == 0 else None, timestamp=t0 + 30.0 * i / n,
            )  # fmt: skip
            sim.client.log_label(MODEL, request_id, int(label[i]), version="v1",
                                 timestamp=t0 + 30.0 * i / n + 1.0)  # fmt: skip
        sim.step(MODEL, [], t0 + 30.0)


def test_exported_paging_rule_fires_in_prometheus(scraped: tuple[Prometheus, Any]) -> None:
    prom, _ = scraped
    deadline = time.monotonic() + 20.0
    while True:
        firing = prom.query('ALERTS{alertname="fraud-p99-page",alertstate="firing"}')
        if firing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert firing, prom.query("mlpulse_latency_seconds")
    labels = firing[0]["metric"]
    assert (labels["model"], labels["percentile"], labels["severity"]) == (MODEL, "p99", "critical")


def test_every_exported_panel_query_returns_series(scraped: tuple[Prometheus, Any]) -> None:
    prom, _ = scraped
    config, _ = decode_config(CONFIG, strict=False)
    queries = [
        (f"{board.title} / {title}", resolved_query(expr))
        for board in grafana_dashboards(config).dashboards
        for title, expr in board.queries
    ]
    assert len(queries) >= 20
    assert not prom.query('mlpulse_drift_score{model="no-such-model"}')  # empty is seen
    empty = [f"{title}: {expr}" for title, expr in queries if not prom.query(expr)]
    assert not empty, "\n".join(empty)


def test_exported_traffic_recording_rules_return_series(scraped: tuple[Prometheus, Any]) -> None:
    prom, _ = scraped
    for record in ("mlpulse:predictions:rate5m", "mlpulse:prediction_errors:ratio_rate5m",
                   "mlpulse:prediction_latency_seconds:p99_rate5m"):  # fmt: skip
        found = prom.query(f'{record}{{model="{MODEL}"}}')
        assert found, record
