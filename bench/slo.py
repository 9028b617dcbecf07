"""The SLO job's cost over a 30-day period of minute profiles: first tick and later ticks.

A DuckDB store (profiles in SQLite, as the embedded collector keeps them) is filled with
``--days`` days of minute profiles of one model (one version, no segments, ``--events``
predictions a minute with ``--features`` numeric features, latencies and 1% errors); the
60 profiles of one hour are made once and repeated, which changes nothing for the reads.
Two SLOs run on it (availability, and latency under 50 ms), with the workbook's four
alerts each. Reported: the first tick (reads every minute of the period once), then the
median of ticks one simulated minute apart, each after one new minute was written (reads
the profile index and that minute), wall and process CPU time, and the SLO service's
memory.

    .venv/bin/python bench/slo.py [--days 30] [--features 10] [--events 100] [--ticks 5]
"""

from __future__ import annotations

import argparse
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
from mlpulse.domain.monitoring import Config
from mlpulse.domain.series import MinuteProfile
from mlpulse.domain.slos import SliConfig, SloConfig
from mlpulse.services.slos import SloService

T0 = 1_767_225_600.0


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def _hour(features: int, events: int, rng: np.random.Generator) -> list[bytes]:
    kinds = {f"f{j}": "numeric" for j in range(features)}
    return [
        WindowProfile.from_columns(
            {name: rng.normal(size=events) for name in kinds}, kinds,
            latency_ms=rng.gamma(2, 10, events), errors=rng.uniform(size=events) < 0.01,
        ).to_bytes()
        for _ in range(60)
    ]  # fmt: skip


def run(days: int, features: int, events: int, ticks: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    hour = _hour(features, events, rng)
    minutes = days * 1440
    config = Config(
        version=1,
        slos={
            "avail": SloConfig(
                model="m", objective=0.999, sli=SliConfig(kind="availability"), period=f"{days}d"
            ),
            "latency": SloConfig(
                model="m",
                objective=0.99,
                sli=SliConfig(kind="latency", threshold_ms=50.0),
                period=f"{days}d",
            ),
        },
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBEventStore(Path(tmp) / "events.duckdb")
        series = DuckDBSeriesStore(
            store.connection(), SQLiteProfileStore(Path(tmp) / "profiles.sqlite")
        )

        def row(i: int) -> MinuteProfile:
            return MinuteProfile("m", "v1", "", T0 + i * 60, "bench", hour[i % 60])

        start = minutes - ticks
        for chunk in range(0, start, 1440):
            series.append_profiles([row(i) for i in range(chunk, min(start, chunk + 1440))])
        clock = Clock(T0 + start * 60)
        service = SloService(series, clock, lambda: config)
        started, cpu = time.perf_counter(), time.process_time()
        first = service.tick()
        cold, cold_cpu = time.perf_counter() - started, time.process_time() - cpu
        assert not first.failures, first.failures
        # Python-level peak of a first tick, traced apart (tracing slows every allocation).
        tracemalloc.start()
        SloService(series, clock, lambda: config).tick()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        warm, warm_cpu = [], []
        for k in range(ticks):
            series.append_profiles([row(start + k)])
            clock.t = T0 + (start + k + 1) * 60
            started, cpu = time.perf_counter(), time.process_time()
            report = service.tick()
            warm.append(time.perf_counter() - started)
            warm_cpu.append(time.process_time() - cpu)
            assert not report.failures and report.slos == 2
        (avail, _) = service.states()
        assert avail.status.total == minutes * events
        store.close()
    return {
        "cold_s": cold,
        "cold_cpu_s": cold_cpu,
        "warm_s": statistics.median(warm),
        "warm_cpu_s": statistics.median(warm_cpu),
        "peak_mb": peak / 2**20,
        "points": first.points,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="SLO job benchmark")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--events", type=int, default=100, help="predictions per minute")
    parser.add_argument("--ticks", type=int, default=5)
    args = parser.parse_args()
    r = run(args.days, args.features, args.events, args.ticks)
    print(f"{args.days} days, 2 SLOs, {args.features} features, {args.events} events/minute")
    print(f"first tick: {r['cold_s']:.2f} s (CPU {r['cold_cpu_s']:.2f} s), "
          f"Python peak {r['peak_mb']:.0f} MB, {r['points']:.0f} points")  # fmt: skip
    warm, warm_cpu = r["warm_s"] * 1000, r["warm_cpu_s"] * 1000
    print(f"later ticks (median): {warm:.0f} ms (CPU {warm_cpu:.0f} ms)")


if __name__ == "__main__":
    main()
