"""Every query of the exported Grafana dashboards is valid PromQL (``promtool check rules``
on each wrapped in a recording rule), and ``mlpulse export grafana`` writes the files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlpulse.adapters.export.grafana_dashboards import grafana_dashboards, queries_as_rules
from mlpulse.cli.main import app
from mlpulse.domain.monitoring import Config, ModelConfig
from tests.prometheus_tools import prometheus_tool

CONFIG = Config(version=1, models={"fraud": ModelConfig(), "recs": ModelConfig()})


@pytest.fixture(scope="module")
def promtool() -> str:
    return prometheus_tool("promtool")


def _check(promtool: str, text: str, folder: Path) -> subprocess.CompletedProcess[str]:
    rules = folder / "queries.yaml"
    rules.write_text(text)
    return subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )


def test_every_dashboard_query_passes_promtool_check(promtool: str, tmp_path: Path) -> None:
    result = grafana_dashboards(CONFIG)
    checked = _check(promtool, queries_as_rules(result), tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    total = sum(len(board.queries) for board in result.dashboards)
    assert f"SUCCESS: {total} rules found" in checked.stdout


def test_promtool_check_rejects_a_broken_dashboard_query(promtool: str, tmp_path: Path) -> None:
    text = queries_as_rules(grafana_dashboards(CONFIG))
    broken = text.replace("sum by (version) (rate(", "sum by (version) (rate((", 1)
    assert broken != text
    assert _check(promtool, broken, tmp_path).returncode != 0


def test_export_grafana_command_writes_one_file_per_dashboard(tmp_path: Path) -> None:
    config_file = tmp_path / "mlpulse.yaml"
    config_file.write_text("version: 1\nmodels:\n  fraud: {}\n")
    found = CliRunner().invoke(
        app, ["export", "grafana", "-f", str(config_file), "-o", str(tmp_path / "boards")]
    )
    assert found.exit_code == 0, found.output
    files = sorted(p.name for p in (tmp_path / "boards").iterdir())
    assert files == ["mlpulse-fraud.json", "mlpulse-overview.json"]
    board = json.loads((tmp_path / "boards" / "mlpulse-fraud.json").read_text())
    assert board["uid"] == "mlpulse-fraud" and board["panels"]
