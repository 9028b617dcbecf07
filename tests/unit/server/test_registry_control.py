"""The registry as runbooks act on it: a hanging MLflow sink does not hold a rollback."""

from __future__ import annotations

import threading
from pathlib import Path

from mlpulse.adapters.store.sqlite_registry import SQLiteRegistryStore
from mlpulse.server.registry_control import RegistryControl
from mlpulse.services.registry import Registry


class Clock:
    def now(self) -> float:
        return 1_767_225_600.0


class HangingSink:
    """An MLflow server that never answers (until released)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def set_champion(self, model: str, version: str) -> str:
        self.release.wait(30.0)
        return version


def test_rollback_stands_and_says_so_when_the_mlflow_sink_hangs(tmp_path: Path) -> None:
    store = SQLiteRegistryStore(tmp_path / "registry.sqlite")
    sink = HangingSink()
    try:
        registry = Registry(store, Clock())
        for version in ("v1", "v2"):
            registry.register("recs", version, f"s3://recs/{version}", actor="ci")
        registry.promote("recs", "v2", actor="ci")
        control = RegistryControl(registry, sinks=[sink], sink_timeout_s=0.2)

        summary = control.rollback("recs", actor="runbook")

        assert summary.startswith("v1=champion:100")
        assert "MLflow alias NOT moved: timed out after 0.2 s" in summary
        assert registry.table("recs").fallback == "v1"
    finally:
        sink.release.set()
        store.close()
