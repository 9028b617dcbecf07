"""The Sloth-compatible SLO rules: names and labels as Sloth writes them, ``promtool check
rules`` passes, and the generated ``promtool test rules`` cases (a full outage pages
within the 1h/5m window, a 2x burn raises only the ticket) pass, and fail when a rule is
changed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mlpulse.adapters.export import slo_rules
from mlpulse.adapters.export.prometheus_rules import prometheus_rules
from mlpulse.adapters.export.slo_rules import slo_rule_groups, slo_rule_skips
from mlpulse.cli.main import app
from mlpulse.domain.config_decode import decode_config
from mlpulse.domain.monitoring import Config
from mlpulse.server.metrics import LATENCY_BUCKETS_S
from tests.prometheus_tools import prometheus_tool

CONFIG = """
version: 1
slos:
  fraud-availability: {model: fraud, objective: 0.999, sli: {kind: availability}}
  fraud-latency:
    model: fraud
    version: v1
    objective: 0.99
    sli: {kind: latency, threshold_ms: 250}
  fraud-latency-odd: {model: fraud, objective: 0.99, sli: {kind: latency, threshold_ms: 300}}
  fraud-drift: {model: fraud, objective: 0.99, sli: {kind: drift_free}}
  fraud-auc:
    model: fraud
    objective: 0.95
    sli: {kind: performance, metric: roc_auc, target: 0.8}
"""
SLOTH_SLI = [f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")]


def _config() -> Config:
    config, problems = decode_config(yaml.safe_load(CONFIG))
    assert problems == []
    return config


@pytest.fixture(scope="module")
def promtool() -> str:
    return prometheus_tool("promtool")


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_slo_rules_use_sloths_names_and_labels_for_the_slis_promql_expresses() -> None:
    groups = {g.name: g for g in slo_rule_groups(_config())}
    assert sorted(groups) == sorted(
        f"sloth-slo-{kind}-fraud-fraud-{slo}"
        for kind in ("sli-recordings", "meta-recordings", "alerts")
        for slo in ("availability", "latency")
    )
    sli = groups["sloth-slo-sli-recordings-fraud-fraud-availability"].rules
    assert [r.record for r in sli if hasattr(r, "record")] == [
        *SLOTH_SLI,
        "slo:sli_error:ratio_rate30d",
    ]
    first = sli[0]
    assert dict(first.labels) == {
        "sloth_id": "fraud-fraud-availability", "sloth_service": "fraud",
        "sloth_slo": "fraud-availability", "sloth_window": "5m",
    }  # fmt: skip
    assert 'mlpulse_prediction_errors_total{model="fraud"}[5m]' in first.expr
    meta = groups["sloth-slo-meta-recordings-fraud-fraud-availability"].rules
    assert [getattr(r, "record", None) for r in meta] == [
        "slo:objective:ratio", "slo:error_budget:ratio", "slo:time_period:days",
        "slo:current_burn_rate:ratio", "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
    ]  # fmt: skip
    assert [r.expr for r in meta[:3]] == ["vector(0.999)", "vector(0.001)", "vector(30)"]
    latency = groups["sloth-slo-sli-recordings-fraud-fraud-latency"].rules[0].expr
    assert 'le="0.25",model="fraud",version="v1"' in latency
    assert [(s.name, s.kind) for s in slo_rule_skips(_config())] == [
        ("fraud-auc", "performance"), ("fraud-drift", "drift_free"),
        ("fraud-latency-odd", "latency"),
    ]  # fmt: skip


def test_slo_rules_latency_bounds_are_the_collectors_histogram_bounds() -> None:
    assert slo_rules.LATENCY_BUCKETS_S == LATENCY_BUCKETS_S


def _export(tmp_path: Path) -> tuple[Path, Path, CliRunner]:
    config_file = tmp_path / "mlpulse.yaml"
    config_file.write_text(CONFIG)
    output, tests = tmp_path / "rules.yaml", tmp_path / "rules_test.yaml"
    runner = CliRunner()
    found = runner.invoke(app, [
        "export", "prometheus-rules", "-f", str(config_file), "-o", str(output),
        "--tests", str(tests),
    ])  # fmt: skip
    assert found.exit_code == 0, found.output
    assert "slo fraud-drift (drift_free) has no Sloth rules" in found.stderr
    assert "slo fraud-latency-odd (latency) has no Sloth rules" in found.stderr
    return output, tests, runner


def test_slo_rules_pass_promtool_check_and_their_outage_and_slow_burn_tests(
    promtool: str, tmp_path: Path
) -> None:
    rules, tests = _export(tmp_path)[:2]
    checked = _run(promtool, "check", "rules", rules, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    cases = {c["name"]: c for c in yaml.safe_load(tests.read_text())["tests"]}
    # The workbook's table: on 99.9%, 1h/5m at 14.4x pages 0.86 minutes into an outage;
    # on 99%, 8.6 minutes.
    assert "fraud-availability: a full outage pages within 2 minutes" in cases
    assert "fraud-latency: a full outage pages within 10 minutes" in cases
    slow = cases["fraud-availability: a 2x burn fires only the pairs below 2x"]
    assert [(c["alertname"], len(c["exp_alerts"])) for c in slow["alert_rule_test"]] == [
        ("fraud-availability-budget-burn-page", 0),
        ("fraud-availability-budget-burn-ticket", 1),
    ]
    tested = _run(promtool, "test", "rules", tests, cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_slo_rule_tests_fail_when_a_burn_rate_changes(promtool: str, tmp_path: Path) -> None:
    rules, tests = _export(tmp_path)[:2]
    text = rules.read_text()
    for changed in (
        text.replace("(14.4 * 0.001)", "(144 * 0.001)"),  # the outage no longer pages
        text.replace("(1 * 0.001)", "(3 * 0.001)"),  # the slow burn raises no ticket
        text.replace("(6 * 0.001)", "(1.5 * 0.001)"),  # the slow burn pages
    ):
        assert changed != text
        rules.write_text(changed)
        tested = _run(promtool, "test", "rules", tests, cwd=tmp_path)
        assert tested.returncode != 0, changed


def test_prometheus_rules_without_the_slo_source_have_no_sloth_groups() -> None:
    names = [g.name for g in prometheus_rules(_config()).groups]
    assert not any(name.startswith("sloth-") for name in names)


def test_an_slo_exported_with_sloths_alerts_pages_through_those_only(tmp_path: Path) -> None:
    rules, _, _ = _export(tmp_path)
    alerts = [
        rule["alert"]
        for group in yaml.safe_load(rules.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    # availability and latency: Sloth's page and ticket, not also the config's own
    # <slo>-burn-<long>-<short> rules; the SLOs PromQL cannot express keep theirs.
    assert "fraud-availability-budget-burn-page" in alerts
    assert not any(
        a.startswith(("fraud-availability-burn-", "fraud-latency-burn-")) for a in alerts
    )
    assert any(a.startswith("fraud-drift-burn-") for a in alerts)
