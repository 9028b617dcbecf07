"""Dashboard page and chart-data times for a model with 30 days of minute points.

Seeds a data directory with ``--days`` of minute metric points for one model — two
versions (throughput, error rate, latency p50/p95/p99), drift per feature and drift
share, missing rate per feature, realised and estimated performance, label coverage,
and the error rate of five segments: 43 series, 1.86M points for 30 days — plus registry
deployments (register, promote, rollback) and hourly business outcomes. Then starts
``mlpulse serve`` on it, logs in with a read key, and times each page and each chart's
JSON endpoint over HTTP: one warm-up request, then the median (and max) of ``--runs``.

    .venv/bin/python bench/dashboard.py [--days 30] [--runs 15] [--data-dir DIR]

A ``--data-dir`` that was seeded before is reused as it is (seeding takes a minute).
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.duckdb_series import DuckDBSeriesStore
from mlpulse.adapters.store.sqlite_metadata import SQLiteMetadataStore
from mlpulse.adapters.store.sqlite_profiles import SQLiteProfileStore
from mlpulse.adapters.store.sqlite_registry import SQLiteRegistryStore
from mlpulse.domain.auth import Scope
from mlpulse.domain.schema import ColumnKind
from mlpulse.domain.series import MetricPoint
from mlpulse.server.settings import Settings
from mlpulse.services.registry import Registry
from mlpulse.testing.process import CollectorProcess, create_key

MODEL = "fraud"
FEATURES = [f"f{i}" for i in range(10)]
COUNTRIES = ["DE", "FR", "US", "GB", "BR"]
DAY = 86400.0
MARKER = "dashboard-bench.seeded"


class SetClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def _day_points(start: float, rng: np.random.Generator) -> list[MetricPoint]:
    points: list[MetricPoint] = []
    base = {"model": MODEL, "monitor": "bench"}
    for minute in range(1440):
        ts = start + minute * 60.0
        for version, rps in (("v1", 40.0), ("v2", 10.0)):
            labels = {**base, "version": version}
            noise = rng.normal(0, 1, 8)
            points += [
                MetricPoint(ts, "mlpulse_throughput_per_second", labels, rps + noise[0]),
                MetricPoint(ts, "mlpulse_error_rate", labels, abs(0.01 + 0.003 * noise[1]), "ok"),
                MetricPoint(ts, "mlpulse_drift_share", labels, 0.1, "ok"),
                MetricPoint(ts, "mlpulse_label_coverage", labels, 0.3),
                MetricPoint(
                    ts, "mlpulse_performance", {**labels, "metric": "auc"}, 0.8 + 0.01 * noise[2]
                ),
                MetricPoint(
                    ts,
                    "mlpulse_estimated_performance",
                    {**labels, "metric": "auc"},
                    0.79 + 0.01 * noise[3],
                ),
            ]
            for quantile, ms in (("p50", 8.0), ("p95", 20.0), ("p99", 35.0)):
                points.append(
                    MetricPoint(
                        ts,
                        "mlpulse_latency_seconds",
                        {**labels, "percentile": quantile},
                        ms / 1000 * (1 + 0.05 * noise[4]),
                    )
                )
            if version == "v1":
                for i, feature in enumerate(FEATURES):
                    column = {**labels, "column": feature}
                    points += [
                        MetricPoint(ts, "mlpulse_drift_score", column, 0.02 * (i + 1), "ok"),
                        MetricPoint(ts, "mlpulse_missing_rate", column, 0.001 * i, "ok"),
                    ]
                for country in COUNTRIES:
                    points.append(
                        MetricPoint(
                            ts, "mlpulse_error_rate", {**labels, "country": country}, 0.01, "ok"
                        )
                    )
    return points


def seed(data_dir: Path, days: int, now: float) -> int:
    """Write ``days`` of minute points ending at ``now``; the number of points."""
    settings = Settings(data_dir=data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    metadata = SQLiteMetadataStore(settings.metadata_path)
    metadata.upsert_models(
        {(MODEL, "v1"): {f: ColumnKind.NUMERIC for f in FEATURES}, (MODEL, "v2"): {}},
        now=now - days * DAY,
    )
    metadata.close()
    store = DuckDBEventStore(settings.events_path)
    series = DuckDBSeriesStore(store.connection(), SQLiteProfileStore(settings.profiles_path))
    rng = np.random.default_rng(0)
    start = (now - days * DAY) // 60 * 60
    total = 0
    for day in range(days):
        points = _day_points(start + day * DAY, rng)
        series.append_points(points)
        total += len(points)
        print(f"\rseeded day {day + 1}/{days} ({total:,} points)", end="", flush=True)
    print()
    series.close()
    store.close()
    clock = SetClock(now - days * DAY)
    registry_store = SQLiteRegistryStore(settings.metadata_path)
    registry = Registry(registry_store, clock)
    registry.register(MODEL, "v1", "s3://bench/v1", actor="bench")
    registry.register(MODEL, "v2", "s3://bench/v2", actor="bench")
    clock.t = now - days * DAY / 3
    registry.promote(MODEL, "v2", actor="bench")
    clock.t = now - days * DAY / 6
    registry.rollback(MODEL, actor="bench", reason="bench")
    registry.close()
    registry_store.close()
    (data_dir / MARKER).write_text(f"{now}\n")
    return total


def ingest_outcomes(url: str, key: str, days: int, now: float) -> None:
    """Ten revenue outcomes an hour for ``days``."""
    rng = np.random.default_rng(1)
    hours = int(days * 24)
    events = [
        {
            "kind": "outcome",
            "name": "revenue",
            "value": float(rng.gamma(2.0, 20.0)),
            "model": MODEL,
            "timestamp": now - (hours - h) * 3600.0 + i * 300.0,
        }
        for h in range(hours)
        for i in range(10)
    ]
    for i in range(0, len(events), 5000):
        response = httpx.post(
            f"{url}/v1/ingest",
            json={"events": events[i : i + 5000]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        response.raise_for_status()


def login(client: httpx.Client, key: str) -> None:
    form = client.get("/login").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found
    response = client.post("/login", data={"api_key": key, "csrf_token": found.group(1)})
    assert response.status_code == 303, response.text


def time_url(client: httpx.Client, path: str, runs: int) -> tuple[float, float, int]:
    """(median ms, max ms, bytes) of ``runs`` GETs after one warm-up."""
    client.get(path).raise_for_status()
    times = []
    size = 0
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        size = len(response.content)
    return statistics.median(times), max(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    owned = None
    if args.data_dir is None:
        owned = tempfile.TemporaryDirectory(prefix="mlpulse-dashboard-bench-")
        args.data_dir = Path(owned.name)
    data_dir: Path = args.data_dir
    fresh = not (data_dir / MARKER).exists()
    now = time.time()
    if fresh:
        started = time.perf_counter()
        total = seed(data_dir, args.days, now)
        print(f"{total:,} points in {time.perf_counter() - started:.0f} s")
    read_key = create_key(data_dir, [Scope.READ], name="bench read")
    ingest_key = create_key(data_dir, [Scope.INGEST], name="bench ingest")
    collector = CollectorProcess(data_dir).start(timeout=120)
    try:
        if fresh:
            ingest_outcomes(collector.url, ingest_key, args.days, now)
        with httpx.Client(base_url=collector.url, timeout=60) as client:
            login(client, read_key)
            paths = ["/", "/alerts", "/incidents", "/experiments"]
            for span in ("24h", "7d", "30d"):
                paths.append(f"/models/{MODEL}?range={span}")
                paths += [
                    f"/ui/data/models/{MODEL}/{chart}?range={span}"
                    for chart in (
                        "traffic",
                        "latency",
                        "errors",
                        "drift-heatmap",
                        "performance",
                        "label-coverage",
                    )
                ]
            paths += [
                f"/business?model={MODEL}&range=30d",
                f"/ui/data/business/kpis?model={MODEL}&range=30d",
                f"/ui/data/business/technical?model={MODEL}&range=30d",
            ]
            print(f"\n{args.days} days of minute points, {args.runs} runs per URL\n")
            print(f"| {'URL':<58} | median ms | max ms | bytes |")
            print(f"| {'-' * 58} | ---: | ---: | ---: |")
            for path in paths:
                median, worst, size = time_url(client, path, args.runs)
                cell = f"`{path}`"
                print(f"| {cell:<58} | {median:.1f} | {worst:.1f} | {size:,} |")
    finally:
        collector.stop()
        if owned is not None:
            owned.cleanup()


if __name__ == "__main__":
    main()
