"""Alerting speed: rule evaluation over many series, and breach → receiver latency.

1. Evaluation: one alert-engine tick over N series of one metric (the newest point of
   each is in memory, as the series store keeps it), with a threshold rule that matches
   them all; a tenth of the series breach, so the tick also moves alerts through their
   lifecycle and groups them. Median of the ticks after the first.
2. End to end: a metric point that breaches a rule is written; the engine is woken (as
   a streaming detection or an evaluator tick wakes it), evaluates, groups
   (``group_wait: 0s``, so the wait is not measured), commits to the SQLite outbox;
   the outbox worker sends the Alertmanager-format webhook to a local HTTP receiver.
   Measured: from the write of the point to the receiver reading the request.

    .venv/bin/python bench/alerting.py [--series 1000 10000] [--breaches 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mlpulse.adapters.clock import SystemClock
from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.domain.monitoring import Config
from mlpulse.domain.rules import ReceiverConfig, RouteConfig, RuleConfig
from mlpulse.domain.series import MetricPoint
from mlpulse.server.background import AlertLoop
from mlpulse.server.receivers import Receivers
from mlpulse.services.alert_engine import AlertEngine
from mlpulse.services.outbox_worker import OutboxWorker
from mlpulse.testing.fakes import InMemorySeriesStore

RULE = RuleConfig(kind="threshold", series="mlpulse_drift_score", op=">", value=0.25)


def _config(url: str = "http://127.0.0.1:9/") -> Config:
    return Config(
        version=1,
        rules={"drift": RULE},
        receivers={"hook": ReceiverConfig(kind="webhook", settings={"url": url})},
        route=RouteConfig(
            receiver="hook", group_wait="0s", group_interval="1s", group_by=["alertname", "model"]
        ),
    )


def evaluation(series_count: int, ticks: int = 7) -> float:
    """Median seconds of one engine tick over ``series_count`` series."""
    with tempfile.TemporaryDirectory() as tmp:
        series = InMemorySeriesStore()
        now = time.time()
        series.append_points(
            [
                MetricPoint(
                    now,
                    "mlpulse_drift_score",
                    {"model": f"m{i % 50}", "column": f"c{i}"},
                    0.5 if i % 10 == 0 else 0.1,
                )
                for i in range(series_count)
            ]
        )
        store = SQLiteAlertStore(Path(tmp) / "alerts.sqlite")
        config = _config()
        engine = AlertEngine(series=series, store=store, clock=SystemClock(), config=lambda: config)
        times = []
        for _ in range(ticks):
            times.append(engine.tick().seconds)
        store.close()
    return statistics.median(times[1:])


class _Receiver:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        self.event = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                import json

                receiver.arrivals.append((time.perf_counter(), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.event.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"


def end_to_end(breaches: int) -> list[float]:
    """Seconds from a breaching point's write to its webhook's arrival, per breach."""
    receiver = _Receiver()
    config = _config(receiver.url)
    with tempfile.TemporaryDirectory() as tmp:
        series = InMemorySeriesStore()
        store = SQLiteAlertStore(Path(tmp) / "alerts.sqlite")
        clock = SystemClock()
        worker = OutboxWorker(store, {}, clock)
        engine = AlertEngine(series=series, store=store, clock=clock, config=lambda: config,
                             on_queued=worker.wake)  # fmt: skip
        loop = AlertLoop(engine, worker, Receivers(), lambda: config, interval_s=1.0)
        worker.start()
        loop.start()
        latencies = []
        for i in range(breaches):
            receiver.event.clear()
            seen = len(receiver.arrivals)
            started = time.perf_counter()
            series.append_points(
                [MetricPoint(time.time(), "mlpulse_drift_score", {"model": f"m{i}"}, 0.9)]
            )
            loop.wake()  # what the stream detector's or evaluator's new point does
            while len(receiver.arrivals) == seen:
                receiver.event.wait(5)
                receiver.event.clear()
            latencies.append(receiver.arrivals[seen][0] - started)
        loop.close()
        worker.close()
        store.close()
    receiver.server.shutdown()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description="alerting benchmark")
    parser.add_argument("--series", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--breaches", type=int, default=200)
    args = parser.parse_args()
    for count in args.series:
        print(f"rule evaluation, {count:>6,} series: {evaluation(count) * 1e3:7.1f} ms per tick "
              "(median)", flush=True)  # fmt: skip
    latencies = sorted(end_to_end(args.breaches))
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(f"breach → webhook, {len(latencies)} breaches: median "
          f"{statistics.median(latencies) * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms, "
          f"max {latencies[-1] * 1e3:.1f} ms")  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
