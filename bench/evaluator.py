"""One evaluator tick over many models: time, memory, and how they grow.

A DuckDB store is filled with two hours of minute profiles per model (one version,
no segments, ``--events`` predictions a minute, half the features numeric and half
categorical with 20 categories); each model has five monitors over 1-hour windows —
drift against the previous hour, data quality, latency p99, error rate, throughput —
all due at the tick. The tick reads the minute profiles, merges them into windows and
writes the metric points. Reported per grid cell: the first tick after start (cold)
and the median of ticks one simulated minute apart (warm: new minutes only; wall and
process CPU time, which a machine shared with other work inflates less), the evaluator's
memory, and the size of one (model, feature, minute) column profile.

    .venv/bin/python bench/evaluator.py [--models 10 25 50] [--features 10 25 50]

With ``--reference``, each model has a stored reference (its first hour, merged) and
the drift monitors compare to it (``compare_to: reference``; quality too, by default).
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.duckdb_series import DuckDBSeriesStore
from mlpulse.adapters.store.sqlite_profiles import SQLiteProfileStore
from mlpulse.core.profiles.window import WindowProfile
from mlpulse.domain.monitoring import Config, MonitorConfig
from mlpulse.domain.schema import ColumnKind
from mlpulse.domain.series import MinuteProfile, StoredReference
from mlpulse.services.evaluator import Evaluator
from mlpulse.testing.fakes import InMemoryMetadataStore

T0 = 1_767_225_600.0
MINUTES = 120


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def _kinds(features: int) -> dict[str, str]:
    return {f"f{j}": "numeric" if j % 2 == 0 else "categorical" for j in range(features)}


def _minute_profiles(
    models: int, features: int, events: int, rng: np.random.Generator
) -> list[MinuteProfile]:
    kinds = _kinds(features)
    categories = np.array([f"c{i}" for i in range(20)], dtype=object)
    rows = []
    for m in range(models):
        for minute in range(MINUTES):
            columns = {
                name: rng.normal(size=events)
                if kind == "numeric"
                else rng.choice(categories, events)
                for name, kind in kinds.items()
            }
            profile = WindowProfile.from_columns(
                columns, kinds, score=rng.uniform(size=events),
                latency_ms=rng.gamma(2, 5, events), errors=rng.uniform(size=events) < 0.02,
            )  # fmt: skip
            rows.append(
                MinuteProfile(f"model{m}", "v1", "", T0 + minute * 60, "bench", profile.to_bytes())
            )
    return rows


def _config(models: int, compare_to: str = "previous_window") -> Config:
    monitors: dict[str, MonitorConfig] = {}
    for m in range(models):
        model = f"model{m}"
        for check, extra in (
            ("drift", {"compare_to": compare_to}),
            ("quality", {}),
            ("latency", {"metric": "p99", "warning": 50.0, "critical": 100.0}),
            ("errors", {"metric": "rate", "warning": 0.05, "critical": 0.1}),
            ("throughput", {"metric": "per_second"}),
        ):
            monitors[f"{model}-{check}"] = MonitorConfig(
                model=model,
                check=check,
                window="1h",
                every="1m",
                **extra,  # type: ignore[arg-type]
            )
    return Config(version=1, monitors=monitors)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(
    models: int, features: int, events: int, ticks: int, *, reference: bool = False
) -> dict[str, float]:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBEventStore(Path(tmp) / "events.duckdb")
        series = DuckDBSeriesStore(
            store.connection(), SQLiteProfileStore(Path(tmp) / "profiles.sqlite")
        )
        rows = _minute_profiles(models, features, events, rng)
        last_hour = rows  # written in two steps: all but the last few minutes, then one a tick
        series.append_profiles([r for r in last_hour if r.minute < T0 + (MINUTES - ticks) * 60])
        metadata = InMemoryMetadataStore()
        kinds = {n: ColumnKind(k) for n, k in _kinds(features).items()}
        metadata.upsert_models({(f"model{m}", "v1"): kinds for m in range(models)}, now=T0)
        config = _config(models, "reference" if reference else "previous_window")
        for m in range(models) if reference else ():
            first_hour = [r for r in rows if r.model == f"model{m}" and r.minute < T0 + 3600]
            parts = [WindowProfile.from_bytes(r.profile) for r in first_hour]
            merged = WindowProfile.merge_all(parts)
            series.put_reference(
                StoredReference(f"model{m}", "v1", T0, "bench", merged.to_bytes(), b"")
            )
        clock = Clock(T0 + (MINUTES - ticks) * 60)
        evaluator = Evaluator(
            series=series, labels=store, metadata=metadata, clock=clock, config=lambda: config
        )
        # Only the configured monitors: leave the defaults of these models out.
        evaluator.monitors = lambda: dict(config.monitors)  # type: ignore[method-assign]
        gc.collect()
        rss_before = _rss_mb()
        started = time.perf_counter()
        first = evaluator.tick()
        cold = time.perf_counter() - started
        assert not first.failures, first.failures[:3]
        warm, warm_cpu = [], []
        for k in range(ticks - 1):
            minute = T0 + (MINUTES - ticks + k) * 60
            series.append_profiles([r for r in rows if r.minute == minute])
            clock.t = minute + 60
            started, cpu = time.perf_counter(), time.process_time()
            report = evaluator.tick()
            warm.append(time.perf_counter() - started)
            warm_cpu.append(time.process_time() - cpu)
            assert report.runs == models * 5, report
        rss_after = _rss_mb()
        # Python-level peak of one more tick, traced apart: tracing slows every allocation.
        series.append_profiles([r for r in rows if r.minute == T0 + (MINUTES - 1) * 60])
        clock.t = T0 + MINUTES * 60
        tracemalloc.start()
        evaluator.tick()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        column = WindowProfile.from_bytes(rows[0].profile).features
        numeric_bytes = len(column["f0"].to_bytes())
        categorical_bytes = len(column["f1"].to_bytes()) if features > 1 else 0
        store.close()
    return {
        "cold_s": cold,
        "warm_s": statistics.median(warm) if warm else cold,
        "warm_cpu_s": statistics.median(warm_cpu) if warm_cpu else math.nan,
        "points": first.points,
        "peak_mb": peak / 2**20,
        "rss_mb": rss_after - rss_before,
        "numeric_kb": numeric_bytes / 1024,
        "categorical_kb": categorical_bytes / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="evaluator tick benchmark")
    parser.add_argument("--models", type=int, nargs="+", default=[10, 25, 50])
    parser.add_argument("--features", type=int, nargs="+", default=[10, 25, 50])
    parser.add_argument("--events", type=int, default=100, help="predictions per model-minute")
    parser.add_argument("--ticks", type=int, default=4)
    parser.add_argument("--reference", action="store_true", help="compare to stored references")
    args = parser.parse_args()
    print(f"{'models':>6} {'features':>8} {'cold s':>7} {'warm s':>7} {'CPU s':>7} {'points':>7} "
          f"{'RSS+ MB':>8} {'peak MB':>8} {'num KB':>7} {'cat KB':>7}")  # fmt: skip
    for models in args.models:
        for features in args.features:
            r = run(models, features, args.events, args.ticks, reference=args.reference)
            print(f"{models:6} {features:8} {r['cold_s']:7.2f} {r['warm_s']:7.2f} "
                  f"{r['warm_cpu_s']:7.2f} "
                  f"{r['points']:7.0f} {r['rss_mb']:8.0f} {r['peak_mb']:8.0f} "
                  f"{r['numeric_kb']:7.1f} {r['categorical_kb']:7.1f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
