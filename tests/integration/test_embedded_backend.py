"""The embedded backend: one metadata database with forward migrations, a data directory
of earlier versions migrated into it, and one transaction across the metadata stores."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlpulse.adapters.store import factory
from mlpulse.adapters.store.embedded import EmbeddedBackend
from mlpulse.adapters.store.factory import migrate, open_backend, open_metadata
from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.adapters.store.sqlite_bandits import SQLiteBanditStore
from mlpulse.adapters.store.sqlite_database import SQLiteDatabase, open_metadata_database
from mlpulse.adapters.store.sqlite_experiments import SQLiteExperimentStore
from mlpulse.adapters.store.sqlite_metadata import SQLiteMetadataStore
from mlpulse.adapters.store.sqlite_migrations import CURRENT_VERSION, LEGACY_FILES
from mlpulse.adapters.store.sqlite_registry import SQLiteRegistryStore
from mlpulse.adapters.store.sqlite_rollouts import SQLiteRolloutStore
from mlpulse.domain.alerts import Silence
from mlpulse.domain.auth import Scope
from mlpulse.domain.bandits import Bandit, BanditReward
from mlpulse.domain.experiments import ExperimentSpec, MetricSpec
from mlpulse.domain.rollouts import PlanView, Rollout, RolloutMetric
from mlpulse.errors import ConfigurationError, InvalidInputError, StoreError
from mlpulse.server.settings import Settings
from mlpulse.services.registry import Registry

NOW = 1_767_225_600.0


class _Clock:
    def now(self) -> float:
        return NOW


def _silence(silence_id: str) -> Silence:
    return Silence(silence_id, {"model": "fraud"}, NOW, NOW + 3600, "ci", "", NOW)


def _rollout(rollout_id: str) -> Rollout:
    return Rollout(
        id=rollout_id, model="fraud", champion="v1", challenger="v2",
        primary=RolloutMetric("conversion"), guardrails=[],
        plan=PlanView([5, 100], 100, None, 0.05), exposure="exposure", status="running",
        step_index=0, step_started_at=NOW, created_at=NOW,
    )  # fmt: skip


def _bandit(bandit_id: str) -> Bandit:
    return Bandit(
        id=bandit_id, model="recs", versions=["v1", "v2"], policy="thompson",
        reward=BanditReward("click"), floor=0.05, every="5m", exposure="exposure", seed=1,
        status="running", champion="v1", weights={"v1": 50, "v2": 50}, created_at=NOW,
        ticked_at=NOW,
    )  # fmt: skip


def _experiment(name: str) -> ExperimentSpec:
    return ExperimentSpec(
        name=name, model="fraud", variants={"A": "v1", "B": "v2"},
        allocation={"A": 50, "B": 50}, control="A", primary=MetricSpec("conversion"),
    )  # fmt: skip


def _old_data_dir(data_dir: Path) -> str:
    """A data directory as earlier versions left it: one SQLite file per store (each
    with its rows, written by the stores themselves); returns a key's token."""
    data_dir.mkdir()
    metadata = SQLiteMetadataStore(data_dir / "metadata.sqlite")
    token = metadata.create_key([Scope.ADMIN], name="ops", now=NOW)[1]
    metadata.close()
    alerts = SQLiteAlertStore(data_dir / "alerts.sqlite")
    alerts.save_silence(_silence("s1"))
    alerts.close()
    registry_store = SQLiteRegistryStore(data_dir / "registry.sqlite")
    Registry(registry_store, _Clock()).register("fraud", "v1", "s3://m/v1", {}, actor="ci")
    registry_store.close()
    experiments = SQLiteExperimentStore(data_dir / "experiments.sqlite")
    experiments.insert(_experiment("checkout"))
    experiments.close()
    rollouts = SQLiteRolloutStore(data_dir / "rollouts.sqlite")
    rollouts.save(_rollout("r1"))
    rollouts.close()
    bandits = SQLiteBanditStore(data_dir / "bandits.sqlite")
    bandits.save(_bandit("b1"))
    bandits.close()
    # The old files had no schema version: the metadata file's migrations are undone.
    with sqlite3.connect(data_dir / "metadata.sqlite") as con:
        con.execute("DROP TABLE schema_version")
    con.close()
    return token


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[EmbeddedBackend]:
    opened = EmbeddedBackend(Settings(data_dir=tmp_path / "data"))
    yield opened
    opened.close()


def _versions(path: Path) -> list[int]:
    con = sqlite3.connect(path)
    try:
        return [row[0] for row in con.execute("SELECT version FROM schema_version ORDER BY 1")]
    finally:
        con.close()


def test_embedded_backend_keeps_its_metadata_in_one_database_with_a_schema_version(
    backend: EmbeddedBackend, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"

    assert sorted(p.name for p in data_dir.glob("*.sqlite")) == [
        "metadata.sqlite",
        "profiles.sqlite",
    ]
    assert (data_dir / "events.duckdb").is_file()
    assert _versions(data_dir / "metadata.sqlite") == list(range(1, CURRENT_VERSION + 1))


def test_embedded_backend_migrates_a_data_directory_of_separate_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    token = _old_data_dir(data_dir)

    backend = EmbeddedBackend(Settings(data_dir=data_dir))
    try:
        assert [k.name for k in backend.metadata.list_keys()] == ["ops"]
        assert [s.id for s in backend.alerts.silences()] == ["s1"]
        assert [v.version for v in backend.registry.versions("fraud")] == ["v1"]
        assert [d.kind for d in backend.registry.deployments("fraud")] == ["register"]
        assert [e.name for e in backend.experiments.list()] == ["checkout"]
        assert [r.id for r in backend.rollouts.list()] == ["r1"]
        assert [b.id for b in backend.bandits.list()] == ["b1"]
    finally:
        backend.close()

    for name in LEGACY_FILES:
        assert not (data_dir / name).exists()
        assert (data_dir / f"{name}.migrated").is_file()
    assert _versions(data_dir / "metadata.sqlite") == list(range(1, CURRENT_VERSION + 1))
    with open_metadata(Settings(data_dir=data_dir)) as metadata:  # reopened: nothing twice
        assert len(metadata.list_keys()) == 1
        assert token.startswith("mlp")


def test_migrate_reports_rows_copied_and_then_that_the_schema_is_current(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    _old_data_dir(data_dir)
    settings = Settings(data_dir=data_dir)

    first = migrate(settings)
    again = migrate(settings)

    assert first is not None and again is not None
    assert (first.before, first.after, first.applied) == (
        0,
        CURRENT_VERSION,
        tuple(range(1, CURRENT_VERSION + 1)),
    )
    assert first.imported["silences"] == 1 and first.imported["deployments"] == 1
    assert "copied 7 rows" in first.describe()  # registry: model, version, deployment
    assert again.applied == () and "up to date" in again.describe()


def test_metadata_stores_commit_once_inside_one_transaction(backend: EmbeddedBackend) -> None:
    registry = Registry(backend.registry, _Clock())

    with pytest.raises(RuntimeError, match="half way"), backend.transaction("roll back"):
        registry.register("fraud", "v1", "s3://m/v1", {}, actor="ci")
        backend.alerts.save_silence(_silence("s1"))
        backend.rollouts.save(_rollout("r1"))
        raise RuntimeError("half way")

    assert backend.registry.versions("fraud") == []
    assert backend.alerts.silences() == [] and backend.rollouts.list() == []

    with backend.transaction("roll back a model"):
        registry.register("fraud", "v1", "s3://m/v1", {}, actor="ci")
        backend.alerts.save_silence(_silence("s1"))
        backend.rollouts.save(_rollout("r1"))

    assert [v.version for v in backend.registry.versions("fraud")] == ["v1"]
    assert [s.id for s in backend.alerts.silences()] == ["s1"]
    assert [r.id for r in backend.rollouts.list()] == ["r1"]


def test_a_stores_failed_write_inside_a_transaction_undoes_only_its_own_changes(
    backend: EmbeddedBackend,
) -> None:
    backend.experiments.insert(_experiment("checkout"))

    with backend.transaction("two changes"):
        backend.alerts.save_silence(_silence("s1"))
        with pytest.raises(InvalidInputError, match="exists already"):
            backend.experiments.insert(_experiment("checkout"))
        backend.bandits.save(_bandit("b1"))

    assert [s.id for s in backend.alerts.silences()] == ["s1"]
    assert [b.id for b in backend.bandits.list()] == ["b1"]
    assert len(backend.experiments.list()) == 1


def test_a_key_created_by_another_process_works_beside_the_open_backend(
    backend: EmbeddedBackend, tmp_path: Path
) -> None:
    # Another connection to the file stands for `mlpulse keys create` while the
    # collector runs; a write transaction of the collector is in the way for a moment.
    with backend.transaction("a long write"):
        backend.alerts.save_silence(_silence("s1"))
        started = time.monotonic()
        with open_metadata(Settings(data_dir=tmp_path / "data")) as metadata:
            assert metadata.list_keys() == []  # an up-to-date database is only read
        assert time.monotonic() - started < 5

    with open_metadata(Settings(data_dir=tmp_path / "data")) as metadata:
        key = metadata.create_key([Scope.READ], name="cli", now=NOW)[0]

    assert [k.key_id for k in backend.metadata.list_keys()] == [key.key_id]


def test_metadata_database_refuses_a_schema_newer_than_this_code(tmp_path: Path) -> None:
    path = tmp_path / "metadata.sqlite"
    open_metadata_database(path).close()
    with sqlite3.connect(path) as con:
        con.execute(
            "INSERT INTO schema_version VALUES (?, 'from the future', 0)", (CURRENT_VERSION + 1,)
        )
    con.close()

    with pytest.raises(StoreError, match=f"schema version {CURRENT_VERSION + 1}, newer"):
        open_metadata_database(path)


def test_closed_database_says_which_store_is_closed(tmp_path: Path) -> None:
    database = SQLiteDatabase(tmp_path / "metadata.sqlite")
    registry = SQLiteRegistryStore(database)
    database.close()

    with pytest.raises(StoreError, match="registry store is closed"):
        registry.versions("fraud")


def test_open_backend_names_the_setting_when_there_is_no_postgres_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Until the PostgreSQL backend is installed (and for a build without it).
    monkeypatch.setattr(factory, "_POSTGRES_MODULE", "mlpulse.adapters.store.absent.backend")
    settings = Settings.from_env(
        {"MLPULSE_STORE": "postgresql://mlpulse:secret@127.0.0.1/test"}, data_dir=tmp_path
    )

    with pytest.raises(ConfigurationError, match="MLPULSE_STORE") as caught:
        open_backend(settings)

    assert "secret" not in str(caught.value)


def test_open_backend_opens_the_embedded_store_in_the_directory_mlpulse_store_names(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({"MLPULSE_STORE": str(tmp_path / "here")})

    backend = open_backend(settings)
    backend.close()

    assert isinstance(backend, EmbeddedBackend)
    assert (tmp_path / "here" / "metadata.sqlite").is_file()


def test_a_read_on_another_thread_sees_committed_rows_without_waiting_for_a_transaction(
    backend: EmbeddedBackend,
) -> None:
    seen: list[list[str]] = []

    def read() -> None:
        seen.append([s.id for s in backend.alerts.silences()])

    with backend.transaction("a long write"):
        backend.alerts.save_silence(_silence("s1"))
        reader = threading.Thread(target=read)
        started = time.monotonic()
        reader.start()
        reader.join(5)
        waited = time.monotonic() - started

    assert seen == [[]]  # the uncommitted silence is not seen
    assert waited < 1
    read()
    assert seen[-1] == ["s1"]
