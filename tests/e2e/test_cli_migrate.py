"""``mlpulse migrate`` on a data directory of an earlier version, as a user runs it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.adapters.store.sqlite_migrations import CURRENT_VERSION
from mlpulse.domain.alerts import Silence


def _mlpulse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlpulse", *args], capture_output=True, text=True, check=True
    )


def test_migrate_copies_the_separate_files_into_the_metadata_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    alerts = SQLiteAlertStore(data_dir / "alerts.sqlite")  # as an earlier version kept it
    alerts.save_silence(Silence("s1", {"model": "fraud"}, 0.0, 1e10, "ops", "", 0.0))
    alerts.close()

    first = _mlpulse("migrate", "--data-dir", str(data_dir)).stderr
    again = _mlpulse("migrate", "--data-dir", str(data_dir)).stderr

    assert f"migrated from schema version 0 to {CURRENT_VERSION}" in first
    assert "silences: 1 rows copied" in first
    assert "renamed alerts.sqlite" in first
    assert "up to date" in again
    assert (data_dir / "alerts.sqlite.migrated").is_file()
    con = sqlite3.connect(data_dir / "metadata.sqlite")
    try:
        assert con.execute("SELECT id FROM silences").fetchall() == [("s1",)]
    finally:
        con.close()
