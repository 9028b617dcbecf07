"""``mlpulse serve`` with ``MLPULSE_LOG_FORMAT=json``: every stderr line is a JSON object."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mlpulse.testing.process import free_port


def _run_collector(data_dir: Path, env: dict[str, str]) -> tuple[str, str]:
    """Start a collector, wait until ready, make one refused request, stop it (SIGTERM);
    its stdout and stderr."""
    port = free_port()
    out_path, err_path = data_dir / "stdout.log", data_dir / "stderr.log"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlpulse", "serve", "--data-dir", str(data_dir / "store"),
             "--port", str(port)],
            stdout=out, stderr=err, env={**os.environ, **env},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, err_path.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            raise AssertionError(f"collector not ready:\n{err_path.read_text()}")
        refused = httpx.post(
            f"http://127.0.0.1:{port}/v1/ingest",
            headers={"Authorization": "Bearer mlp_wrong"},
            content=b"{}",
            timeout=5.0,
        )
        assert refused.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    return out_path.read_text(), err_path.read_text()


def test_serve_with_json_logs_writes_one_json_object_per_stderr_line(tmp_path: Path) -> None:
    stdout, stderr = _run_collector(
        tmp_path, {"MLPULSE_LOG_FORMAT": "json", "MLPULSE_LOG_LEVEL": "info"}
    )

    lines = stderr.splitlines()
    assert len(lines) >= 3, stderr  # at least: no keys yet, started, shutting down
    records = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record), record
        assert str(record["time"]).endswith("Z")
    messages = " | ".join(str(r["message"]) for r in records)
    assert "No API keys yet" in messages
    assert "Application startup complete" in messages
    assert {r["level"] for r in records} <= {"INFO", "WARNING", "ERROR", "CRITICAL"}
    assert stdout == ""


def test_serve_with_warning_level_text_logs_leaves_out_info_lines(tmp_path: Path) -> None:
    _, stderr = _run_collector(tmp_path, {"MLPULSE_LOG_LEVEL": "WARNING"})

    assert "Application startup complete" not in stderr
    assert "No API keys yet" in stderr  # the console hint, not a log record
    assert not any(line.startswith("{") for line in stderr.splitlines())
