"""``mlpulse demo``: a collector on a fresh embedded store, a simulated day, a summary.

Starts the collector in this process on a simulated clock, runs the day
(:mod:`mlpulse.demo.day`) under a live view, prints what was detected and how fast,
writes an HTML report, then keeps the dashboard running until Ctrl-C (unless ``serve``
is off or standard input is not a terminal).
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from rich.console import Console
from rich.live import Live

from mlpulse.adapters.store.factory import open_metadata
from mlpulse.demo import script
from mlpulse.demo.clock import SimulatedClock
from mlpulse.demo.collector_thread import CollectorThread
from mlpulse.demo.day import Day, DayOptions, Feed, Measured, Progress
from mlpulse.demo.live import LiveView, feed_line
from mlpulse.demo.pager import Pager
from mlpulse.demo.summary import Summary, print_summary, summarize, write_report
from mlpulse.domain.auth import Scope
from mlpulse.sdk.client import Client
from mlpulse.server.settings import Settings

# Outside the two fast failures, the demo logs a share of the requests it simulates (a
# sampled log, as a platform of this size may keep): every request of a 10M-a-day day
# through one process would take the demo ten minutes. Inside them it logs every one.
DEFAULT_SCALE = 0.1
FAST_SCALE = 0.05  # fast mode (the tests): 1 in 20,
FAST_STEP = 300.0  # and five-minute steps there (the evaluator's cadence)


@dataclass(frozen=True)
class DemoOptions:
    seed: int = 7
    speed: float = 0.0
    fast: bool = False
    scale: float = DEFAULT_SCALE
    data_dir: Path | None = None
    port: int = 8080
    serve: bool | None = None  # None: when standard input is a terminal
    live: bool = True
    summary_json: Path | None = None


def _port(preferred: int) -> int:
    """``preferred`` when it is free on loopback, else 0 (any free port)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            return 0
    return preferred


def run_demo(options: DemoOptions, console: Console) -> int:
    """Run the demo; 0 when every promise of the summary was met."""
    owned = None
    data_dir = options.data_dir
    if data_dir is None:
        owned = tempfile.TemporaryDirectory(prefix="mlpulse-demo-")
        data_dir = Path(owned.name)
    data_dir.mkdir(parents=True, exist_ok=True)
    if any(data_dir.glob("*.duckdb")):
        console.print(
            f"[red]error:[/] {data_dir} already holds a store; the demo needs a fresh one"
        )
        return 2
    try:
        return _run(options, data_dir, console)
    finally:
        if owned is not None:
            owned.cleanup()


def _run(options: DemoOptions, data_dir: Path, console: Console) -> int:
    settings = Settings(
        data_dir=data_dir, host="127.0.0.1", port=_port(options.port),
        # The demo ticks the evaluator itself, in lock step with the simulated clock.
        evaluator_interval_s=86_400.0,
    )  # fmt: skip
    now = time.time()
    with open_metadata(settings) as metadata:
        admin_key = metadata.create_key([Scope.ADMIN], name="demo operator", now=now)[1]
        ingest_key = metadata.create_key([Scope.INGEST], name="demo serving", now=now)[1]
        read_key = metadata.create_key([Scope.READ], name="demo dashboard", now=now)[1]
    clock = SimulatedClock(script.DAY_START)
    feed, progress = Feed(), Progress()
    day_options = DayOptions(seed=options.seed, speed=options.speed, scale=options.scale)
    if options.fast:
        day_options = replace(day_options, scale=FAST_SCALE, coarse_step=FAST_STEP)
    console.rule("[bold]mlpulse demo: a day of a recommendation platform and a fraud model")
    console.print(f"store: {data_dir} (DuckDB events, SQLite metadata)")
    pager, collector = Pager(), CollectorThread(settings, clock=clock)
    with pager, collector:
        url = collector.url
        console.print(f"collector and dashboard: {url}  (log in with the read key {read_key})")
        scale = day_options.scale
        console.print(
            f"[dim]outside the two fast failures, {scale:.0%} of the requests are logged"
            + (", and the evaluator runs every 5 simulated minutes" if options.fast else "")
        )
        started = time.perf_counter()
        with (
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"},
                         timeout=60.0) as admin,
            Client(url, ingest_key, batch_size=5000, max_buffer=2_000_000,
                   flush_interval=0.05) as client,
        ):  # fmt: skip
            admin.put("/v1/config", json=script.monitoring_config(pager.url)).raise_for_status()
            day = Day(collector.app, clock, admin, client, day_options, feed, progress)
            measured = _run_day(day, console, feed, progress, url, live=options.live)
            postmortem = _postmortem(admin, measured.incident)
        clock.release()
        _wait_for_notifications(pager)
        summary = summarize(measured, progress, pager.alertnames(), time.perf_counter() - started)
        print_summary(console, summary)
        report = _report(data_dir, summary, feed, day, postmortem)
        console.print(f"report: {report}")
        if options.summary_json is not None:
            options.summary_json.write_text(json.dumps(summary.to_dict(), indent=2))
        _serve(options, console, url, read_key, admin_key)
    return 0 if summary.ok else 1


def _run_day(
    day: Day, console: Console, feed: Feed, progress: Progress, url: str, *, live: bool
) -> Measured:
    if live and console.is_terminal:
        with Live(LiveView(progress, feed, url=url), console=console, refresh_per_second=4):
            return day.run()
    # Not a terminal (a log, a pipe, CI): one line per event instead of a redrawn view.
    feed.listeners.append(lambda at, text, style: console.print(feed_line(at, text, style)))
    return day.run()


def _postmortem(admin: httpx.Client, incident: dict[str, object] | None) -> str | None:
    if not incident:
        return None
    answer = admin.get(f"/v1/incidents/{incident['id']}/postmortem")
    return answer.text if answer.is_success else None


def _wait_for_notifications(pager: Pager, timeout: float = 5.0) -> None:
    """The outbox delivers in the background: give the last notifications a moment."""
    deadline = time.monotonic() + timeout
    count = -1
    while time.monotonic() < deadline and count != len(pager.received):
        count = len(pager.received)
        time.sleep(0.5)


def _report(data_dir: Path, summary: Summary, feed: Feed, day: Day, postmortem: str | None) -> Path:
    drift_path: Path | None = None
    if day.reference_sample and day.drifted_sample:
        from mlpulse.library import report as drift_report

        drift_path = drift_report(day.reference_sample, day.drifted_sample).save_html(
            data_dir / "drift-recs.html"
        )
    return write_report(
        data_dir / "report.html", summary, feed, postmortem=postmortem, drift_report=drift_path
    )


def _serve(options: DemoOptions, console: Console, url: str, read_key: str, admin_key: str) -> None:
    if options.serve is False or (options.serve is None and not sys.stdin.isatty()):
        return
    console.rule("[bold]the dashboard keeps running")
    console.print(f"open {url} and log in with the read key  {read_key}")
    console.print(f"(to acknowledge and silence alerts, the admin key  {admin_key})")
    console.print("Ctrl-C to stop")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # a process manager's stop
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    console.print("stopping")
