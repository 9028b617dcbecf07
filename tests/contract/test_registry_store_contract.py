"""One suite over every RegistryStore: SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlpulse.adapters.store.postgres.registry import PostgresRegistryStore
from mlpulse.adapters.store.sqlite_registry import SQLiteRegistryStore
from mlpulse.domain.registry import Deployment, DeploymentKind, ModelVersion, RoutingEntry
from mlpulse.errors import StoreError
from mlpulse.ports import RegistryStore
from tests.contract.conftest import postgres_database

T = 1_767_225_600.0

STORES: dict[str, Callable[[Path, pytest.FixtureRequest], RegistryStore]] = {
    "sqlite": lambda tmp, _: SQLiteRegistryStore(tmp / "registry.sqlite"),
    "postgres": lambda _, request: PostgresRegistryStore(postgres_database(request)),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegistryStore]:
    made = STORES[request.param](tmp_path, request)
    yield made
    made.close()  # type: ignore[attr-defined]  # every adapter has one; the port does not


def _version(model: str, version: str, at: float) -> ModelVersion:
    return ModelVersion(
        model=model, version=version, artifact_uri=f"s3://{model}/{version}",
        metadata={"team": "risk"}, created_at=at, stage="shadow", weight=0,
    )  # fmt: skip


def _event(model: str, version: str, at: float, kind: DeploymentKind = "register") -> Deployment:
    return Deployment(model=model, version=version, at=at, kind=kind, detail={"why": kind},
                      actor="ci")  # fmt: skip


def test_registry_store_bumps_the_revision_with_every_change(store: RegistryStore) -> None:
    assert store.revision("fraud") is None
    assert store.add_version(_version("fraud", "v1", T), _event("fraud", "v1", T)) == 1
    assert store.add_version(_version("fraud", "v2", T), _event("fraud", "v2", T + 1)) == 2
    assert store.add_version(_version("recs", "v1", T + 2), _event("recs", "v1", T + 2)) == 1
    entries = [RoutingEntry("v2", "champion", 100), RoutingEntry("v1", "archived", 0)]
    promoted = _event("fraud", "v2", T + 3, "promote")
    assert store.set_routing("fraud", entries, promoted) == 3
    assert store.revision("fraud") == (3, T + 3)
    assert [(v.version, v.stage, v.weight) for v in store.versions("fraud")] == [
        ("v1", "archived", 0),  # added first at the same time: listed first
        ("v2", "champion", 100),
    ]
    assert store.versions("fraud")[0].metadata == {"team": "risk"}
    assert store.versions("nobody") == []


def test_registry_store_lists_deployments_oldest_first(store: RegistryStore) -> None:
    store.add_version(_version("fraud", "v1", T), _event("fraud", "v1", T + 5))
    store.add_version(_version("recs", "v1", T), _event("recs", "v1", T + 1))
    store.set_routing(
        "fraud", [RoutingEntry("v1", "champion", 100)], _event("fraud", "v1", T + 2, "promote")
    )
    every = store.deployments()
    assert [(d.model, d.at) for d in every] == [("fraud", T + 5), ("recs", T + 1), ("fraud", T + 2)]
    assert every[2] == _event("fraud", "v1", T + 2, "promote")
    assert [d.at for d in store.deployments("fraud")] == [T + 5, T + 2]
    assert [d.at for d in store.deployments(since=T + 2)] == [T + 5, T + 2]
    assert [d.at for d in store.deployments("recs", since=T + 2)] == []


def test_registry_store_refuses_a_version_twice_and_changes_nothing(store: RegistryStore) -> None:
    store.add_version(_version("fraud", "v1", T), _event("fraud", "v1", T))
    with pytest.raises(StoreError):
        store.add_version(_version("fraud", "v1", T + 1), _event("fraud", "v1", T + 1))
    assert store.revision("fraud") == (1, T)
    assert len(store.deployments()) == 1
