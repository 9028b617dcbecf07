"""Fixtures of the dashboard's browser tests: one collector with two days of data, and
Debian's chromium driven by Playwright (never ``playwright install``).

The collector is seeded the way production fills it: two days of the evaluator's metric
points written straight into the series store before the collector starts (a real
evaluator would need two days of wall time), then predictions, labels, outcomes,
registry changes, a rule that fires, an incident and an experiment through the running
collector's HTTP API and the SDK. Everything is session-scoped: the whole browser suite
shares one collector and one browser.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, sync_playwright

from mlpulse import Client
from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.duckdb_series import DuckDBSeriesStore
from mlpulse.adapters.store.sqlite_profiles import SQLiteProfileStore
from mlpulse.domain.series import MetricPoint
from tests.conftest import RunningCollector, start_collector

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOUR = 3600.0
DAY = 24 * HOUR
STEP = 300.0  # the seeded traffic series: one point every five minutes
EXPERIMENT = "checkout-browser"


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where the browser must run."""
    if os.environ.get("MLPULSE_REQUIRE_BROWSER") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        _unavailable(
            "chromium is not installed: apt-get install -y --no-install-recommends chromium "
            "(make test installs it as root)"
        )
    if not (REPO / "web" / "node_modules" / "echarts").is_dir():
        _unavailable(
            "the dashboard's browser libraries are missing (web/node_modules/echarts): "
            "run `npm ci --prefix web`, which `make` does"
        )
    assert path is not None
    return path


@pytest.fixture(scope="package")
def artifacts_dir() -> Path:
    """Where the screenshots go: $MLPULSE_ARTIFACTS, or build/screenshots (git-ignored)."""
    configured = os.environ.get("MLPULSE_ARTIFACTS")
    path = Path(configured) if configured else REPO / "build" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- two days of the evaluator's points ------------------------------------------------------


@dataclass(frozen=True)
class _Version:
    model: str
    version: str
    since: float  # seconds before now when the version began to serve
    task: str  # the performance metric the evaluator would record


def _drift_status(severity: float) -> str:
    return "critical" if severity >= 2 else "warning" if severity >= 1 else "ok"


def _series_points(now: float, rng: np.random.Generator) -> list[MetricPoint]:
    """What the default monitors would have written over two days, with a story:
    a daily traffic cycle, a latency spike ten hours ago, ``amount`` drifting over the
    last half day and the fraud model's AUC sagging with it, labels arriving late."""
    versions = [
        _Version("fraud", "v1", 2 * DAY, "roc_auc"),
        _Version("fraud", "v2", 6 * HOUR, "roc_auc"),
        _Version("recs", "v3", 2 * DAY, "ndcg_at_k"),
    ]
    end = math.floor(now / STEP) * STEP - STEP  # the last closed five minutes
    points = [point for v in versions for point in _version_points(v, now, end, rng)]
    return points + _wide_points(end) + _fresh_points(now) + _slo_points(end, rng)


# An availability SLO of the fraud model (in CONFIG): two days of its burn rates, as the
# SLO service would have written them, with the error spike of ten hours ago.
SLO = "fraud-availability"
SLO_WINDOWS = ("5m", "30m", "1h", "6h")


def _slo_points(end: float, rng: np.random.Generator) -> list[MetricPoint]:
    labels = {"model": "fraud", "slo": SLO}
    points = []
    for ts in np.arange(end - 2 * DAY + STEP, end + 1, STEP):
        spike = 6.0 if abs(end - ts - 10 * HOUR) < 20 * 60 else 1.0
        for window in SLO_WINDOWS:
            rate = abs(rng.normal(1.0, 0.2)) * spike
            points.append(
                MetricPoint(float(ts), "mlpulse_slo_burn_rate", {**labels, "window": window}, rate)
            )
    return points


# A model with many features, one of them a long name and one HTML: the heatmap labels
# every row, worst first, and its tooltip shows names as text.
WIDE_MODEL = "wide"
LONG_FEATURE = "customer_lifetime_value_over_the_last_ninety_days_normalised_by_region"
HTML_FEATURE = '<img src=x onerror="window.__injected=1">'
WIDE_FEATURES = [f"feature_{i:02d}" for i in range(24)] + [LONG_FEATURE, HTML_FEATURE]
# A model that began serving ten minutes ago: two throughput points.
FRESH_MODEL = "fresh"


def _wide_severity(i: int) -> float:
    """Feature i's drift severity: the HTML one the worst, the long one next, then the
    others in a spread that their names' order does not follow."""
    return 3.0 - 0.1 * i if i < 2 else (i * 7 % 24) / 12


def _wide_points(end: float) -> list[MetricPoint]:
    labels = {"model": WIDE_MODEL, "version": "v1", "monitor": "wide-drift"}
    order = [HTML_FEATURE, LONG_FEATURE, *WIDE_FEATURES[:24]]
    return [
        MetricPoint(
            float(ts),
            "mlpulse_drift_score",
            {**labels, "column": column, "method": "psi" if i % 2 else "wasserstein"},
            _wide_severity(i),
            _drift_status(_wide_severity(i)),
        )
        for ts in np.arange(end - 6 * HOUR, end + 1, HOUR)
        for i, column in enumerate(order)
    ]


def _fresh_points(now: float) -> list[MetricPoint]:
    labels = {"model": FRESH_MODEL, "version": "v1", "monitor": "fresh-throughput"}
    return [
        MetricPoint(now - ago, "mlpulse_throughput_per_second", labels, 0.5)
        for ago in (9 * 60.0, 4 * 60.0)
    ]


def _version_points(
    v: _Version, now: float, end: float, rng: np.random.Generator
) -> list[MetricPoint]:
    columns = {
        "fraud": {"amount": "wasserstein", "country": "jensen_shannon", "merchant_age": "ks"},
        "recs": {"query_len": "wasserstein", "device": "jensen_shannon"},
    }[v.model]
    points: list[MetricPoint] = []

    def add(ts: float, name: str, monitor: str, value: float, status: str | None = None,
            **extra: str) -> None:  # fmt: skip
        labels = {"model": v.model, "version": v.version, "monitor": f"{v.model}-{monitor}"}
        points.append(MetricPoint(float(ts), name, {**labels, **extra}, float(value), status))

    share = 0.3 if v.version == "v2" else 1.0
    for ts in np.arange(end - v.since + STEP, end + 1, STEP):
        age = now - ts
        daily = math.sin(2 * math.pi * (ts % DAY) / DAY)
        # About what the SDK sends below (0.4/s), so the live points continue the line.
        add(ts, "mlpulse_throughput_per_second", "throughput",
            share * max(0.02, 0.4 + 0.2 * daily + rng.normal(0, 0.03)))  # fmt: skip
        spike = 4.0 if abs(age - 10 * HOUR) < 20 * 60 else 1.0
        errors = min(1.0, abs(rng.normal(0.01, 0.004)) * (6.0 if spike > 1 else 1.0))
        add(ts, "mlpulse_error_rate", "errors", errors, "ok" if errors < 0.05 else "warning")
        p50 = rng.gamma(50, 0.5) * (1 + 0.2 * daily)
        for quantile, factor in (("p50", 1.0), ("p95", 2.4), ("p99", 3.6)):
            value = p50 * factor * spike
            # The default latency monitor records p99; p50 and p95 are monitors of
            # their own (as an mlpulse.yaml that wants the percentiles declares them).
            monitor = "latency" if quantile == "p99" else f"latency-{quantile}"
            status = "ok" if value < 500 else "warning" if value < 1000 else "critical"
            add(ts, "mlpulse_latency_seconds", monitor, value / 1000, status, percentile=quantile)
        if int(ts) % int(HOUR):
            continue  # drift, performance and labels: hourly monitors
        drifting = max(0.0, (12 * HOUR - age) / (12 * HOUR)) if v.model == "fraud" else 0.0
        drifted = 0
        for i, (column, method) in enumerate(columns.items()):
            # Severities (1 = the column's warning threshold, 2 = its critical one).
            value = 10 * abs(rng.normal(0.03 + 0.01 * i, 0.01)) + (
                3.5 * drifting if column == "amount" else 0.0
            )
            drifted += _drift_status(value) != "ok"
            add(ts, "mlpulse_drift_score", "drift", value, _drift_status(value),
                column=column, method=method)  # fmt: skip
        drift_share = drifted / len(columns)
        add(ts, "mlpulse_drift_share", "drift", drift_share, _drift_status(drift_share * 4))
        coverage = min(1.0, 0.05 + age / DAY)  # labels arrive over about a day
        quality = (0.92 if v.task == "roc_auc" else 0.71) - 0.06 * drifting
        add(ts, "mlpulse_label_coverage", "performance", coverage)
        add(ts, "mlpulse_performance", "performance",
            quality + rng.normal(0, 0.005 / max(coverage, 0.1)), "ok", metric=v.task)  # fmt: skip
        if v.task == "roc_auc":
            add(ts, "mlpulse_estimated_performance", "estimated-performance",
                quality + 0.01 + rng.normal(0, 0.004), metric="roc_auc")  # fmt: skip
    return points


def _seed_series(data_dir: Path, now: float) -> int:
    """Write the points with the collector's own stores, closed before it starts (a
    second process cannot open the DuckDB file while the collector holds it)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    events = DuckDBEventStore(data_dir / "events.duckdb")
    series = DuckDBSeriesStore(
        events.connection(), SQLiteProfileStore(data_dir / "profiles.sqlite")
    )
    try:
        points = _series_points(now, np.random.default_rng(42))
        series.append_points(points)
        return len(points)
    finally:
        series.close()
        events.close()


# -- the rest through the API ------------------------------------------------------------------

CONFIG: dict[str, Any] = {
    "version": 1,
    "rules": {
        "latency-high": {
            "kind": "threshold",
            "series": "mlpulse_latency_seconds",
            "match": {"model": "fraud", "percentile": "p99"},
            "op": ">",
            "value": 0.15,
            "severity": "critical",
            "annotations": {"summary": "{{ $labels.model }} p99 is {{ $value }} s"},
        },
        # The seeded drift: `amount` critical over the last hours, on both versions.
        "drift-share": {
            "kind": "threshold",
            "series": "mlpulse_drift_share",
            "match": {"model": "fraud"},
            "op": ">=",
            "value": 0.3,
            "severity": "warning",
            "annotations": {"summary": "{{ $labels.model }} drifted in {{ $drifted_columns }}"},
        },
        "errors-high": {
            "kind": "threshold",
            "series": "mlpulse_error_rate",
            "match": {"model": "fraud"},
            "op": ">",
            "value": 0.02,
            "severity": "warning",
            "annotations": {"summary": "{{ $labels.model }} fails {{ $value }} of requests"},
        },
    },
    # No derived burn-rate rules (page: false): the alerts above are what the tests ack.
    "slos": {
        SLO: {"model": "fraud", "objective": 0.99, "sli": {"kind": "availability"}, "page": False}
    },
}

EXPERIMENT_SPEC: dict[str, Any] = {
    "name": EXPERIMENT,
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


def _wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"seeding: {what} did not happen within {timeout} s")
        time.sleep(0.2)


def _log_traffic(collector: RunningCollector, now: float, rng: np.random.Generator) -> None:
    with Client(collector.url, collector.ingest_key) as client:
        # fraud: the last half hour, slow (p99 well above the rule's 150 ms) and failing
        # 10 % of the time, so that the error rule (2 %) fires for both versions whatever
        # five minutes the window catches; two thirds of the predictions get their label.
        for i in range(720):
            request_id = f"fraud-{i}"
            amount = float(rng.lognormal(4, 1))
            score = float(1 / (1 + math.exp(-(amount - 80) / 40)))
            fraud = bool(rng.random() < score)
            client.log_prediction(
                "fraud",
                "v2" if i % 3 == 0 else "v1",
                {
                    "amount": amount,
                    "country": str(rng.choice(["DE", "FR", "US"])),
                    "merchant_age": float(rng.integers(0, 3000)),
                },
                fraud,
                request_id=request_id,
                score=score,
                latency_ms=float(rng.gamma(20, 10)),
                error="TimeoutError: feature store" if rng.random() < 0.10 else None,
                timestamp=now - 1800 + i * 2.4,
            )
            if i % 3:
                client.log_label("fraud", request_id, fraud, timestamp=now - 1700 + i * 2.4)
        # recs: two days, a prediction every ten minutes, clicks and revenue on it.
        for i in range(288):
            ts = now - 2 * DAY + i * 600
            request_id = f"recs-{i}"
            client.log_prediction(
                "recs",
                "v3",
                {
                    "query_len": float(rng.integers(1, 12)),
                    "device": str(rng.choice(["ios", "android", "web"])),
                },
                [f"item-{j}" for j in rng.integers(0, 500, 5)],
                request_id=request_id,
                latency_ms=float(rng.gamma(9, 4)),
                timestamp=ts,
            )
            if rng.random() < 0.4:
                client.log_outcome(
                    "click",
                    1.0,
                    model="recs",
                    version="v3",
                    request_id=request_id,
                    timestamp=ts + 30,
                )
            if rng.random() < 0.15:
                client.log_outcome(
                    "revenue",
                    float(rng.gamma(3, 15)),
                    model="recs",
                    version="v3",
                    request_id=request_id,
                    timestamp=ts + 90,
                )
        assert client.flush(timeout=30), "seeding: the SDK could not deliver the events"


def _registry(admin: httpx.Client) -> None:
    for version in ("v1", "v2"):
        registered = admin.post(
            "/v1/registry/fraud/versions",
            json={
                "version": version,
                "artifact_uri": f"s3://models/fraud/{version}",
                "metadata": {"git_sha": f"{version}abc"},
            },
        )
        assert registered.status_code == 201, registered.text
    promoted = admin.post("/v1/registry/fraud/promote", json={"version": "v2", "reason": "AUC +1"})
    assert promoted.status_code == 200, promoted.text
    rolled = admin.post("/v1/registry/fraud/rollback", json={"reason": "p99 regression"})
    assert rolled.status_code == 200, rolled.text
    registered = admin.post(
        "/v1/registry/recs/versions", json={"version": "v3", "artifact_uri": "s3://models/recs/v3"}
    )
    assert registered.status_code == 201, registered.text


def _alerts(admin: httpx.Client) -> dict[str, str]:
    """The rules fire on the slow, failing fraud traffic: fingerprint by rule."""
    applied = admin.put("/v1/config", json=CONFIG)
    assert applied.status_code == 200, applied.text

    def firing() -> dict[str, str]:
        admin.post("/v1/evaluator/tick")
        admin.post("/v1/alerts/tick")
        alerts = admin.get("/v1/alerts", params={"state": "firing"}).json()["alerts"]
        found = {a["rule"]: a["fingerprint"] for a in alerts if a["labels"].get("model") == "fraud"}
        return found if {"latency-high", "errors-high", "drift-share"} <= set(found) else {}

    fired: dict[str, str] = _wait_for(firing, "the latency, error and drift alerts firing")
    return fired


def _experiment(collector: RunningCollector, admin: httpx.Client, rng: np.random.Generator) -> None:
    created = admin.post("/v1/experiments", json=EXPERIMENT_SPEC)
    assert created.status_code == 201, created.text
    started = admin.post(f"/v1/experiments/{EXPERIMENT}/start")
    assert started.status_code == 200, started.text
    with (
        httpx.Client(
            base_url=collector.url, headers=collector.headers(collector.ingest_key)
        ) as serving,
        Client(collector.url, collector.ingest_key) as client,
    ):
        for i in range(600):
            unit = f"user-{i}"
            answer = serving.get(f"/v1/experiments/{EXPERIMENT}/assignment", params={"unit": unit})
            assert answer.status_code == 200, answer.text
            variant, version = answer.json()["variant"], answer.json()["version"]
            client.log_outcome("exposure", unit_id=unit, model="shop", version=version)
            client.log_outcome("latency_ms", float(rng.normal(120, 15)), unit_id=unit, model="shop")
            if rng.random() < (0.30 if variant == "B" else 0.12):
                client.log_outcome("purchase", 1.0, unit_id=unit, model="shop", version=version)
        assert client.flush(timeout=30), "seeding: the SDK could not deliver the outcomes"
    results = admin.get(f"/v1/experiments/{EXPERIMENT}/results")
    assert results.status_code == 200 and results.json()["units"] == 600, results.text


@dataclass(frozen=True)
class Seeded:
    """The running collector and what the seed made, for the tests to look for."""

    collector: RunningCollector
    series_points: int
    alerts: dict[str, str]  # rule → fingerprint of its firing fraud alert
    incident_id: str
    experiment: str

    @property
    def url(self) -> str:
        return self.collector.url


@pytest.fixture(scope="package")
def seeded(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[Seeded]:
    data_dir = tmp_path_factory.mktemp("dashboard-collector")
    now = time.time()
    count = _seed_series(data_dir, now)
    # The evaluator runs only when the seed asks (its own loop would wait an hour), so
    # its first run of each monitor sees all the seeded traffic, not part of it.
    process, keys = start_collector(data_dir, MLPULSE_EVALUATOR_INTERVAL="3600")
    try:
        collector = RunningCollector(process, keys["admin"], keys["ingest"], keys["read"])
        rng = np.random.default_rng(7)
        with httpx.Client(
            base_url=collector.url, headers=collector.headers(collector.admin_key), timeout=30
        ) as admin:
            _registry(admin)
            _log_traffic(collector, now, rng)
            time.sleep(2.5)  # the aggregator writes a closed minute within a second or two
            fired = _alerts(admin)
            incidents = admin.get("/v1/incidents").json()["incidents"]
            assert incidents, "seeding: the critical alert opened no incident"
            _experiment(collector, admin, rng)
        yield Seeded(collector, count, fired, incidents[0]["incident"]["id"], EXPERIMENT)
    finally:
        process.stop()


# -- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
