"""The built-in scenario: two versions of a fraud model, traffic through the SDK, a report.

What it shows: events logged with the SDK arrive, are stored durably, and the
collector's summary and /metrics agree with what was sent (the scenario computes
the true figures from the same simulated numbers and prints both).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from mlpulse.adapters.store.sqlite_metadata import SQLiteMetadataStore
from mlpulse.demo.collector_thread import CollectorThread
from mlpulse.domain.auth import Scope
from mlpulse.sdk.client import Client
from mlpulse.server.settings import Settings

MODEL = "fraud"
COUNTRIES = np.array(["DE", "FR", "US", "GB", "BR"])
CHANNELS = np.array(["web", "app", "pos"])


@dataclass(frozen=True)
class VersionPlan:
    version: str
    share: float
    latency_median_ms: float
    error_rate: float


PLANS = (
    VersionPlan("v1", share=0.8, latency_median_ms=8.0, error_rate=0.005),
    VersionPlan("v2", share=0.2, latency_median_ms=14.0, error_rate=0.03),
)


@dataclass
class Truth:
    count: int = 0
    errors: int = 0
    latencies: list[float] | None = None


def _simulate(client: Client, rng: np.random.Generator, n: int, now: float) -> dict[str, Truth]:
    truth = {plan.version: Truth(latencies=[]) for plan in PLANS}
    versions = rng.choice(len(PLANS), size=n, p=[plan.share for plan in PLANS])
    amounts = rng.lognormal(3.5, 1.0, n)
    ages = rng.integers(18, 90, n)
    countries = rng.choice(COUNTRIES, n)
    channels = rng.choice(CHANNELS, n)
    noise = rng.normal(0, 1, (n, 3))
    start = now - 600.0  # the last ten minutes
    for i in range(n):
        plan = PLANS[versions[i]]
        latency = float(rng.lognormal(np.log(plan.latency_median_ms), 0.4))
        failed = rng.random() < plan.error_rate
        score = float(1 / (1 + np.exp(-(amounts[i] / 60 - 2 + noise[i, 0]))))
        request_id = client.log_prediction(
            MODEL,
            plan.version,
            {
                "amount": float(amounts[i]),
                "age": int(ages[i]),
                "country": str(countries[i]),
                "channel": str(channels[i]),
                "velocity_1h": float(noise[i, 1]),
                "merchant_risk": float(noise[i, 2]),
            },
            None if failed else int(score > 0.5),
            score=None if failed else score,
            latency_ms=latency,
            error="TimeoutError: feature store" if failed else None,
            timestamp=start + 600.0 * i / n,
        )
        t = truth[plan.version]
        t.count += 1
        t.errors += int(failed)
        assert t.latencies is not None
        t.latencies.append(latency)
        if not failed and rng.random() < 0.3:
            client.log_label(MODEL, request_id, int(rng.random() < score), version=plan.version)
        if rng.random() < 0.05:
            client.log_outcome("chargeback", float(amounts[i]), model=MODEL, request_id=request_id)
    return truth


def run_scenario(*, seed: int, predictions: int, data_dir: Path | None, console: Console) -> int:
    """Run the scenario; 0 when the collector reports exactly what was sent."""
    owned = None
    if data_dir is None:
        owned = tempfile.TemporaryDirectory(prefix="mlpulse-demo-")
        data_dir = Path(owned.name)
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, host="127.0.0.1", port=0)
    metadata = SQLiteMetadataStore(settings.metadata_path)
    ingest_key = metadata.create_key([Scope.INGEST], name="demo serving", now=time.time())[1]
    read_key = metadata.create_key([Scope.READ], name="demo reader", now=time.time())[1]
    metadata.close()
    console.rule("[bold]mlpulse demo")
    console.print(f"store: {data_dir}  (DuckDB events, SQLite metadata)")
    try:
        with CollectorThread(settings) as url:
            console.print(f"collector: {url}")
            started = time.perf_counter()
            # A simulation logs far faster than real serving: room for the whole run.
            with Client(url, ingest_key, batch_size=5000, max_buffer=500_000) as client:
                truth = _simulate(client, np.random.default_rng(seed), predictions, time.time())
                client.flush(timeout=60)
                stats = client.stats()
            elapsed = time.perf_counter() - started
            console.print(
                f"sent {stats.sent:,} events through the SDK in {elapsed:.1f} s "
                f"(dropped {stats.dropped}, rejected {stats.rejected})"
            )
            ok = _report(console, url, read_key, truth)
    finally:
        if owned is not None:
            owned.cleanup()
    console.print(
        "[green]the collector reports what was sent[/] (counts, errors and exact latency "
        "percentiles in /v1/models/fraud/summary; counts in /metrics)"
        if ok
        else "[red]the collector's figures differ from what was sent"
    )
    return 0 if ok else 1


def _report(console: Console, url: str, read_key: str, truth: dict[str, Truth]) -> bool:
    headers = {"Authorization": f"Bearer {read_key}"}
    summary = httpx.get(
        f"{url}/v1/models/{MODEL}/summary", params={"window": "1h"}, headers=headers
    ).json()
    metrics = httpx.get(f"{url}/metrics", headers=headers).text
    table = Table(title=f"{MODEL}, last hour, as the collector reports it")
    for column in ("version", "count", "errors", "error rate", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="right")
    table.add_column("= sent", justify="center")
    ok = True
    for row in summary["versions"]:
        t = truth[row["version"]]
        assert t.latencies is not None
        p50, p95, p99 = np.percentile(t.latencies, [50, 95, 99])
        lat = row["latency_ms"]
        series = f'mlpulse_predictions_total{{model="{MODEL}",version="{row["version"]}"}}'
        same = (
            row["count"] == t.count
            and row["errors"] == t.errors
            and bool(np.allclose([lat["p50"], lat["p95"], lat["p99"]], [p50, p95, p99]))
            and f"{series} {float(t.count)!r}" in metrics
        )
        ok &= same
        table.add_row(
            row["version"],
            f"{row['count']:,}",
            f"{row['errors']:,}",
            f"{row['error_rate']:.2%}",
            f"{lat['p50']:.2f}",
            f"{lat['p95']:.2f}",
            f"{lat['p99']:.2f}",
            "[green]yes" if same else "[red]no",
        )
    console.print(table)
    return ok and {r["version"] for r in summary["versions"]} == set(truth)
