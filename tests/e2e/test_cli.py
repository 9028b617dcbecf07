"""The command line as a user runs it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import httpx

from mlpulse.testing.process import CollectorProcess

ROOT = Path(__file__).resolve().parents[2]


def _mlpulse(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlpulse", *args], capture_output=True, text=True, check=check
    )


def test_keys_create_prints_a_token_that_a_running_collector_accepts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    admin = _mlpulse("keys", "create", "--scope", "admin", "--data-dir", str(data_dir))
    token = admin.stdout.strip()
    assert token.startswith("mlp_")
    assert "created key" in admin.stderr
    with CollectorProcess(data_dir) as collector:
        # A key made while the collector runs works at once (SQLite beside DuckDB).
        reader = _mlpulse(
            "keys", "create", "--scope", "read", "--name", "grafana", "--data-dir", str(data_dir)
        ).stdout.strip()
        ok = httpx.get(f"{collector.url}/metrics", headers={"X-API-Key": reader})
        assert ok.status_code == 200
        listing = _mlpulse("keys", "list", "--data-dir", str(data_dir)).stdout
        assert "grafana" in listing
        assert reader not in listing and token not in listing
        key_id = reader.split("_")[1]
        _mlpulse("keys", "revoke", key_id, "--data-dir", str(data_dir))
    with CollectorProcess(data_dir) as collector:
        refused = httpx.get(f"{collector.url}/metrics", headers={"X-API-Key": reader})
        assert refused.status_code == 401


def test_keys_create_refuses_an_unknown_scope(tmp_path: Path) -> None:
    result = _mlpulse("keys", "create", "--scope", "root", "--data-dir", str(tmp_path), check=False)
    assert result.returncode != 0
    assert "root" in result.stderr


def test_version_prints_the_version_pyproject_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    result = _mlpulse("--version")
    assert result.stdout.strip() == f"mlpulse {declared['project']['version']}"
