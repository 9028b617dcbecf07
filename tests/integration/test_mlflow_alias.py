"""A rollback moves the MLflow registered model's `champion` alias (a local SQLite registry)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlpulse.adapters.store.sqlite_registry import SQLiteRegistryStore
from mlpulse.server.registry_control import RegistryControl
from mlpulse.services.registry import Registry

pytest.importorskip("mlflow")
from mlflow import MlflowClient

from mlpulse.adapters.registry.mlflow_alias import VERSION_TAG, MlflowAlias

# MLflow's own database code trips SQLAlchemy 2.1's deprecation warnings (its business,
# not ours): they are not errors here, as every other warning is.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@dataclass
class Clock:
    t: float = 1_767_225_600.0

    def now(self) -> float:
        self.t += 1.0
        return self.t


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    store = SQLiteRegistryStore(tmp_path / "registry.sqlite")
    registry = Registry(store, Clock())
    for version in ("v1", "v2"):
        registry.register("recs", version, f"s3://models/recs/{version}", actor="test")
    registry.promote("recs", "v2", actor="test")
    yield registry
    registry.close()
    store.close()


@pytest.fixture
def mlflow_uri(tmp_path: Path) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("recs")
    for version in ("v1", "v2"):
        created = client.create_model_version("recs", source=f"/models/recs/{version}")
        client.set_model_version_tag("recs", created.version, VERSION_TAG, version)
    client.set_registered_model_alias("recs", "champion", "2")
    return uri


def test_a_rollback_moves_the_mlflow_champion_alias(registry: Registry, mlflow_uri: str) -> None:
    alias = MlflowAlias(mlflow_uri)
    assert alias.champion("recs") == "2"
    control = RegistryControl(registry, sinks=[alias])
    summary = control.rollback("recs", actor="runbook", reason="errors up")
    assert "v1=champion:100" in summary and "MLflow alias → version 1" in summary
    assert alias.champion("recs") == "1"


def test_an_unmappable_version_leaves_the_alias_and_says_so(
    registry: Registry, mlflow_uri: str
) -> None:
    alias = MlflowAlias(mlflow_uri, model_names={"recs": "other-model"})
    summary = RegistryControl(registry, sinks=[alias]).rollback("recs", actor="runbook")
    assert "v1=champion:100" in summary  # the rollback itself stands
    assert "MLflow alias NOT moved" in summary
