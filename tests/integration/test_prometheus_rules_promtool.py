"""The exported rules pass ``promtool check rules``, and their generated unit tests pass
``promtool test rules`` (and fail when a rule is changed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mlpulse.adapters.config.yaml_file import load_config
from mlpulse.adapters.export.prometheus_rules import prometheus_rules
from mlpulse.adapters.export.promtool_tests import promtool_tests
from mlpulse.cli.main import app
from tests.prometheus_tools import prometheus_tool

DOCS_EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mlpulse.yaml"

CONFIG = """
version: 1
models:
  fraud: {task: binary_classification}
monitors:
  fraud-p99: {model: fraud, check: latency, metric: p99, critical: 800, page: true}
  fraud-drift: {model: fraud, check: drift, method: psi, critical: 0.3, page: true}
  fraud-auc: {model: fraud, check: performance, metric: roc_auc, critical: 0.7, page: true}
rules:
  drift-amount:
    kind: threshold
    series: mlpulse_drift_score
    match: {column: amount}
    op: ">="
    value: 1
    resolve_value: 0.8
    for: 10m
    annotations:
      summary: "{{ $labels.model }}: {{ $drifted_columns }} drifted ({{ $value }})"
  auc-drop:
    kind: relative
    series: mlpulse_performance
    match: {metric: roc_auc}
    op: "<"
    ratio: 0.95
    severity: critical
    labels: {team: risk}
  errors-doubled:
    kind: relative
    series: mlpulse_error_rate
    match: {model: fraud, mode: ""}
    op: ">"
    ratio: 2
    baseline_value: 0.01
    for: 1.5h
  no-traffic:
    kind: absent
    series: mlpulse_throughput_per_second
    match: {model: fraud}
    absent_for: 15m
    for: 2m
  odd-text:
    kind: threshold
    series: mlpulse_missing_rate
    match: {column: "naïve \\"x\\""}
    op: ">"
    value: 0.5
    annotations:
      summary: "{{ .NotMlpulse }} 50% of {{ $labels.column }} {{ $value }} {{"
  odd-errors: {kind: anomaly, series: mlpulse_error_rate}
  stream: {kind: detection, series: mlpulse_stream_change}
"""


@pytest.fixture(scope="module")
def promtool() -> str:
    return prometheus_tool("promtool")


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _export(config_file: Path, folder: Path) -> tuple[Path, Path]:
    result = prometheus_rules(load_config(config_file))
    rules, tests = folder / "rules.yaml", folder / "rules_test.yaml"
    rules.write_text(result.yaml())
    tests.write_text(promtool_tests(result, rule_file="rules.yaml"))
    return rules, tests


@pytest.mark.parametrize("source", ["config", "docs-example"])
def test_exported_rules_pass_promtool_check_and_their_unit_tests(
    promtool: str, tmp_path: Path, source: str
) -> None:
    config_file = tmp_path / "mlpulse.yaml"
    if source == "config":
        config_file.write_text(CONFIG)
    else:  # the repository's example, with an empty stand-in for its reference file
        config_file.write_text(DOCS_EXAMPLE.read_text())
        for model in yaml.safe_load(config_file.read_text())["models"].values():
            reference = (model or {}).get("reference") or {}
            if "file" in reference:
                (tmp_path / reference["file"]).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / reference["file"]).touch()
    rules, tests = _export(config_file, tmp_path)
    checked = _run(promtool, "check", "rules", rules, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _run(promtool, "test", "rules", tests, cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
    cases = yaml.safe_load(tests.read_text())["tests"]
    assert cases, "no unit test was generated"


def test_exported_unit_tests_fail_when_a_rule_changes(promtool: str, tmp_path: Path) -> None:
    config_file = tmp_path / "mlpulse.yaml"
    config_file.write_text(CONFIG)
    rules, tests = _export(config_file, tmp_path)
    text = rules.read_text()
    for changed in (
        text.replace("> 0.8", "> 0.9"),  # the latency page's threshold
        text.replace("for: 90m", "for: 80m"),  # errors-doubled fires early
        # drift-amount without its hysteresis: the held alert resolves
        text.replace(" or (mlpulse_drift_score", " unless (mlpulse_drift_score"),
    ):
        assert changed != text
        rules.write_text(changed)
        tested = _run(promtool, "test", "rules", tests, cwd=tmp_path)
        assert tested.returncode != 0, changed


def test_export_command_writes_rules_and_tests_and_warns_about_skipped_rules(
    promtool: str, tmp_path: Path
) -> None:
    config_file = tmp_path / "mlpulse.yaml"
    config_file.write_text(CONFIG)
    (tmp_path / "out").mkdir()
    output, tests = tmp_path / "out" / "r.yaml", tmp_path / "r_test.yaml"
    found = CliRunner().invoke(app, [
        "export", "prometheus-rules", "-f", str(config_file), "-o", str(output),
        "--tests", str(tests),
    ])  # fmt: skip
    assert found.exit_code == 0, found.output
    assert "rule odd-errors (anomaly) not exported" in found.stderr
    assert "rule stream (detection) not exported" in found.stderr
    assert "rule_files:\n- out/r.yaml" in (tmp_path / "r_test.yaml").read_text()
    tested = _run(promtool, "test", "rules", tmp_path / "r_test.yaml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    to_stdout = CliRunner().invoke(app, ["export", "prometheus-rules", "-f", str(config_file)])
    assert to_stdout.exit_code == 0
    assert yaml.safe_load(to_stdout.stdout)["groups"][0]["name"] == "mlpulse-traffic"
