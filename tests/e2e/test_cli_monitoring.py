"""`mlpulse plan`, `mlpulse apply` and `mlpulse reference upload` against a real collector."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import RunningCollector

CONFIG = """\
version: 1
models:
  fraud:
    task: binary_classification
    reference:
      file: train.parquet
      label_column: is_fraud
      score_column: score
monitors:
  fraud-drift:
    model: fraud
    check: drift
    window: 1h
  fraud-latency:
    model: fraud
    check: latency
    metric: p99
    warning: 250
    critical: 500
"""


def _cli(collector: RunningCollector, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLPULSE_URL": collector.url, "MLPULSE_API_KEY": collector.admin_key}
    return subprocess.run(
        [sys.executable, "-m", "mlpulse", *args], capture_output=True, text=True, env=env
    )


def test_plan_apply_plan_round_trip(collector: RunningCollector, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    score = rng.uniform(size=5_000)
    pq.write_table(
        pa.table({"amount": rng.lognormal(3, 1, 5_000), "score": score,
                  "is_fraud": (rng.uniform(size=5_000) < score).astype(int)}),
        tmp_path / "train.parquet",
    )  # fmt: skip
    config = tmp_path / "mlpulse.yaml"
    config.write_text(CONFIG)

    planned = _cli(collector, "plan", "-f", str(config))
    assert planned.returncode == 0, planned.stderr
    assert "+ model fraud" in planned.stdout and "+ monitor fraud-drift" in planned.stdout

    applied = _cli(collector, "apply", "-f", str(config))
    assert applied.returncode == 0, applied.stderr
    assert "reference of fraud: 5,000 rows" in applied.stderr
    assert "Plan: 3 to create, 0 to update, 0 to delete." in applied.stdout
    reference = httpx.get(
        f"{collector.url}/v1/models/fraud/reference", headers=collector.headers(collector.read_key)
    ).json()
    assert reference["columns"] == {"amount": "numeric"} and reference["sample_rows"] == 5_000

    again = _cli(collector, "plan", "-f", str(config))
    assert "No changes" in again.stdout

    config.write_text(CONFIG.replace("warning: 250", "warning: 300"))
    changed = _cli(collector, "plan", "-f", str(config))
    assert "~ monitor fraud-latency: warning 250.0 → 300.0" in changed.stdout


def test_apply_names_the_file_line_and_path_of_every_problem(
    collector: RunningCollector, tmp_path: Path
) -> None:
    config = tmp_path / "mlpulse.yaml"
    config.write_text(
        "version: 1\nmonitors:\n  lat:\n    model: fraud\n    check: latency\n"
        "    window: soon\n    warning: 500\n    critical: 250\n"
    )
    failed = _cli(collector, "apply", "-f", str(config))
    assert failed.returncode == 2
    assert f"{config}:6: monitors.lat.window: must be a duration" in failed.stderr
    assert "monitors.lat.critical" in failed.stderr
    unauthorised = subprocess.run(
        [sys.executable, "-m", "mlpulse", "plan", "-f", str(config)],
        capture_output=True, text=True,
        env={k: v for k, v in os.environ.items() if k != "MLPULSE_API_KEY"},
    )  # fmt: skip
    assert unauthorised.returncode == 2


def test_reference_upload_from_csv(collector: RunningCollector, tmp_path: Path) -> None:
    data = tmp_path / "ref.csv"
    data.write_text("amount,plan\n" + "\n".join(f"{i * 1.5},{'ab'[i % 2]}" for i in range(100)))
    done = _cli(collector, "reference", "upload", "--model", "shop", "-f", str(data))
    assert done.returncode == 0, done.stderr
    assert "reference of shop: 100 rows, 2 columns" in done.stderr
    missing = _cli(
        collector, "reference", "upload", "--model", "shop", "-f", str(tmp_path / "x.csv")
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr
