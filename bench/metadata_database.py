"""The one metadata database: what sharing a connection costs, and how long a migration takes.

1. Contention: one thread commits alert changes in a loop (50 alerts a commit, as a busy
   alert engine), while this thread reads a model's registry revision (the routing
   table's poll) once a millisecond. Read latency p50/p99 with both stores in one database
   (one connection and lock, as the embedded backend has them) beside both in files of
   their own (each with its connection, as before).
2. Migration: a data directory as earlier versions left it, with ``--rows`` delivery-log
   rows and as many outbox entries in ``alerts.sqlite``, migrated into
   ``metadata.sqlite`` (``mlpulse migrate``'s work).

    .venv/bin/python bench/metadata_database.py [--seconds 5] [--rows 100000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from mlpulse.adapters.store.factory import migrate
from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.adapters.store.sqlite_database import open_metadata_database
from mlpulse.adapters.store.sqlite_registry import SQLiteRegistryStore
from mlpulse.domain.alerts import Alert, AlertState, Severity
from mlpulse.domain.registry import Deployment, ModelVersion
from mlpulse.server.settings import Settings


def _alerts(n: int, now: float) -> list[Alert]:
    return [
        Alert(
            fingerprint=f"f{i}",
            rule="r",
            severity=Severity.WARNING,
            state=AlertState.FIRING,
            labels={"model": "fraud", "i": str(i)},
            annotations={},
            value=1.0,
            active_since=now,
            updated_at=now,
        )
        for i in range(n)
    ]


def _reads(
    alerts: SQLiteAlertStore, registry: SQLiteRegistryStore, seconds: float
) -> tuple[float, float, int]:
    registry.add_version(
        ModelVersion("fraud", "v1", "s3://m", {}, 0.0, "champion", 100),
        Deployment("fraud", "v1", 0.0, "register", {}, "bench"),
    )
    stop = threading.Event()
    commits = 0

    def write() -> None:
        nonlocal commits
        while not stop.is_set():
            alerts.commit(alerts=_alerts(50, time.time()), now=time.time())
            commits += 1

    writer = threading.Thread(target=write)
    writer.start()
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # One read every millisecond, as polls arrive: reading back to back would count
        # thousands of fast reads for each one that waited behind a commit.
        time.sleep(0.001)
        started = time.perf_counter()
        registry.revision("fraud")
        latencies.append((time.perf_counter() - started) * 1e6)
    stop.set()
    writer.join()
    cuts = statistics.quantiles(latencies, n=100)
    return cuts[49], cuts[98], commits


def contention(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database = open_metadata_database(Path(tmp) / "metadata.sqlite")
        shared = _reads(SQLiteAlertStore(database), SQLiteRegistryStore(database), seconds)
        database.close()
    with tempfile.TemporaryDirectory() as tmp:
        alerts = SQLiteAlertStore(Path(tmp) / "alerts.sqlite")
        registry = SQLiteRegistryStore(Path(tmp) / "registry.sqlite")
        separate = _reads(alerts, registry, seconds)
        alerts.close()
        registry.close()
    for name, (p50, p99, commits) in (("one database", shared), ("separate files", separate)):
        print(
            f"{name:>15}: registry read p50 {p50:7.1f} µs, p99 {p99:8.1f} µs; "
            f"{commits / seconds:6.0f} alert commits/s beside it"
        )


def migration(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        old = SQLiteAlertStore(data_dir / "alerts.sqlite")
        con = old._file.connection  # bulk rows straight in: building them is not measured
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO deliveries (outbox_id, at, delivered, status_code, detail) "
            "VALUES (?, ?, 1, 200, 'ok')",
            ((f"o{i}", float(i)) for i in range(rows)),
        )
        con.executemany(
            "INSERT INTO outbox (id, receiver, dedup_key, status, next_attempt_at, created_at, "
            "body) VALUES (?, 'team', ?, 'delivered', 0, 0, ?)",
            ((f"o{i}", f"k{i}", b"x" * 300) for i in range(rows)),
        )
        con.execute("COMMIT")
        old.close()
        started = time.perf_counter()
        report = migrate(Settings(data_dir=data_dir))
        elapsed = time.perf_counter() - started
        assert report is not None
        print(f"migration: {sum(report.imported.values()):,} rows in {elapsed:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    contention(args.seconds)
    migration(args.rows)


if __name__ == "__main__":
    main()
