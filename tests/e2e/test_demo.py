"""The demo, as `make demo` runs it but in fast mode with a fixed seed: its promises hold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_demo_day_detects_rolls_back_decides_and_catches_the_fraud_shift(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    data_dir = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "mlpulse", "demo", "--fast", "--seed", "7", "--no-serve",
         "--port", "0", "--data-dir", str(data_dir), "--summary-json", str(summary_path)],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = json.loads(summary_path.read_text())

    # A feature drifts at 09:00: an alert, naming the column.
    assert summary["drift_detected"] and "item_price" in summary["drift_columns"]
    assert 0 < summary["drift_time_to_detect_s"] < 3600
    # The bad deployment is rolled back; serving is back on v1 within 10 s of detection.
    assert summary["rollback_done"]
    assert summary["recovered_after_detection_s"] < 10.0
    assert summary["deploy_time_to_detect_s"] < 60.0
    # The recs availability SLO: v1's 0.2% errors spend a fifth of a 99% budget; the bad
    # deploy burns more of it.
    before, after = summary["slo_budget_before_deploy"], summary["slo_budget_after_deploy"]
    assert 0.7 < before < 0.9
    assert after < before - 0.001
    # The A/B test reaches a sequential decision, and the winner is promoted.
    assert summary["experiment_decided"] and summary["experiment_promoted"]
    assert summary["experiment"]["outcome"] == "better"
    low, high = summary["experiment"]["relative_ci"]
    assert 0 < low < summary["experiment"]["relative"] < high
    # The fraud model's score shift is caught within one second of traffic.
    assert summary["fraud_detected"] and summary["fraud_time_to_detect_s"] <= 1.0
    # Every alert reached the on-call webhook; the day's volume is the platform's.
    assert set(summary["notifications"]) >= {"feature-drift", "errors-up", "fraud-score-shift"}
    assert 9_500_000 < summary["requests"]["recs"] < 10_500_000
    assert summary["ok"] is True

    # What the user reads: the summary table, MTTD and MTTR, and the report files.
    assert "MTTD" in result.stdout and "MTTR" in result.stdout
    assert "error budget (recs-availability" in result.stdout
    report = (data_dir / "report.html").read_text()
    assert "Post-mortem draft" in report and "rollback" in report
    assert (data_dir / "drift-recs.html").is_file()
