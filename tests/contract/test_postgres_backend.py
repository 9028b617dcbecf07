"""What only the PostgreSQL backend promises: several replicas on one database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from mlpulse.adapters.store.factory import open_backend
from mlpulse.adapters.store.postgres import database
from mlpulse.adapters.store.postgres.backend import PostgresBackend
from mlpulse.adapters.store.postgres.database import Database
from mlpulse.adapters.store.postgres.events import PostgresEventStore
from mlpulse.adapters.store.postgres.migrations import MIGRATIONS, Migration
from mlpulse.domain.auth import Scope, hash_token
from mlpulse.domain.events import PredictionBlock
from mlpulse.domain.incidents import ActionOutcome
from mlpulse.domain.registry import Deployment, ModelVersion
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.errors import StoreError
from mlpulse.server.settings import Settings

T = 1_767_225_600.0


def _block(request_ids: list[str]) -> PredictionBlock:
    return PredictionBlock(
        model="fraud", version="v1", request_id=request_ids,
        features={"amount": [float(i) for i in range(len(request_ids))]},
        latency_ms=[1.0] * len(request_ids),
    )  # fmt: skip


@pytest.fixture
def replica(postgres: Database) -> Iterator[Database]:
    """A second process's view of the same schema: its own pool and writer."""
    other = Database(postgres.url, schema=postgres.schema, max_size=2)
    yield other
    other.close()


def test_postgres_event_stores_store_a_batch_id_once_across_replicas(
    postgres: Database, replica: Database
) -> None:
    first, second = PostgresEventStore(postgres), PostgresEventStore(replica)
    try:
        batches = [
            AcceptedBatch(f"b{i}", T, predictions=[_block([f"r{i}-{j}" for j in range(3)])])
            for i in range(40)
        ]
        # Every batch posted to both replicas at once, as an SDK retrying on another URL.
        pairs = [(first.append(b), second.append(b)) for b in batches]
        results = [(a.result(10), b.result(10)) for a, b in pairs]
        for a, b in results:
            assert sorted([a.duplicate, b.duplicate]) == [False, True]
            assert a.accepted == b.accepted == 3
        assert first.count("prediction") == second.count("prediction") == 120
        rows = postgres.rows("test", "count", "SELECT count(DISTINCT request_id) FROM predictions")
        assert rows == [(120,)]
    finally:
        first.close()
        second.close()


def test_postgres_database_migrates_once_when_replicas_open_at_once(postgres_url: str) -> None:
    schema = f"t_{secrets.token_hex(6)}"
    with ThreadPoolExecutor(4) as pool:
        databases = list(pool.map(lambda _: Database(postgres_url, schema=schema), range(4)))
    try:
        assert {d.version for d in databases} == {MIGRATIONS[-1].version}
        rows = databases[0].rows("test", "read versions", "SELECT version FROM schema_version")
        assert sorted(v for (v,) in rows) == [m.version for m in MIGRATIONS]
    finally:
        for database in databases:
            database.close()


def test_postgres_database_applies_only_the_migrations_a_schema_lacks(
    postgres: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    lease = Migration(
        MIGRATIONS[-1].version + 1,
        "outbox leases",
        ("ALTER TABLE outbox ADD COLUMN leased_until double precision",),
    )
    monkeypatch.setattr(database, "MIGRATIONS", (*MIGRATIONS, lease))
    for _ in range(2):  # the second open finds nothing to do
        upgraded = Database(postgres.url, schema=postgres.schema)
        try:
            assert upgraded.version == lease.version
            rows = upgraded.rows("test", "read", "SELECT version, description FROM schema_version")
            assert sorted(rows)[-1] == (lease.version, "outbox leases")
            assert len(rows) == len(MIGRATIONS) + 1
            assert upgraded.rows("test", "read", "SELECT leased_until FROM outbox") == []
        finally:
            upgraded.close()


def test_postgres_database_refuses_a_schema_newer_than_its_migrations(
    postgres: Database,
) -> None:
    postgres.rows(
        "test", "pretend a newer mlpulse migrated it",
        "INSERT INTO schema_version (version, description) VALUES (%s, 'from the future')",
        (MIGRATIONS[-1].version + 1,),
    )  # fmt: skip
    with pytest.raises(StoreError, match="newer than this mlpulse knows"):
        Database(postgres.url, schema=postgres.schema)


def test_postgres_database_says_at_once_why_postgresql_refused(postgres_url: str) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/mlpulse_no_such_database"
    with pytest.raises(StoreError, match="mlpulse_no_such_database"):
        Database(missing, timeout_s=30)


def test_postgres_event_store_fails_only_the_batch_postgres_refuses(postgres: Database) -> None:
    store = PostgresEventStore(postgres)
    try:
        good = [AcceptedBatch(f"ok{i}", T, predictions=[_block([f"r{i}"])]) for i in range(3)]
        bad = AcceptedBatch("bad", T, predictions=[_block(["nul\x00byte"])])
        futures = [store.append(good[0]), store.append(bad), *map(store.append, good[1:])]
        with pytest.raises(StoreError):
            futures[1].result(10)
        assert [f.result(10).accepted for f in (futures[0], *futures[2:])] == [1, 1, 1]
        assert store.count("prediction") == 3
        assert store.is_healthy()
    finally:
        store.close()


def test_postgres_stores_reconnect_when_their_connections_are_lost(postgres: Database) -> None:
    store = PostgresEventStore(postgres)
    try:
        store.append(AcceptedBatch("before", T, predictions=[_block(["a"])])).result(10)
        with psycopg.connect(postgres.url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        after = store.append(AcceptedBatch("after", T, predictions=[_block(["b"])])).result(10)
        assert (after.accepted, after.duplicate) == (1, False)
        assert store.count("prediction") == 2  # the pool replaced its lost connections too
    finally:
        store.close()


def test_postgres_backend_is_what_a_postgresql_store_setting_opens(
    postgres_url: str, tmp_path: Path
) -> None:
    backend = open_backend(Settings(data_dir=tmp_path, store=postgres_url))
    try:
        assert isinstance(backend, PostgresBackend)
        key, token = backend.metadata.create_key([Scope.READ], name="grafana", now=T)
        backend.events.append(AcceptedBatch("b", T, predictions=[_block(["r"])])).result(10)
        (summary,) = backend.traffic.version_summaries("fraud", start=T - 60, end=T + 60)
        assert summary.count == 1
        assert backend.labels is backend.events and backend.incidents is backend.alerts
        assert backend.registry.revision("fraud") is None
        assert backend.experiments.list() == backend.rollouts.list() == []
        assert backend.bandits.list() == []
        assert backend.series.latest_points() == []
        assert backend.experiment_outcomes.unit_totals("fraud", "x", start=0, end=T) == []
        assert backend.rollout_outcomes.version_unit_totals("f", "x", ["v"], start=0, end=T) == []
    finally:
        backend.close()
    assert list(tmp_path.iterdir()) == []  # nothing of it lives in the data directory
    with pytest.raises(StoreError):  # closed: every store refuses
        backend.metadata.find_key(hash_token(token))
    assert key.name == "grafana"


def test_postgres_backend_commits_a_change_across_stores_once(
    postgres: Database, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, store=postgres.url)
    backend = PostgresBackend(postgres.url, settings, schema=postgres.schema)
    version = ModelVersion(model="fraud", version="v2", artifact_uri="s3://v2", metadata={},
                           created_at=T, stage="challenger", weight=10)  # fmt: skip
    event = Deployment(model="fraud", version="v2", at=T, kind="register", detail={}, actor="ci")
    outcome = ActionOutcome(runbook="r", action="rollback", status="done", detail="", at=T)
    try:
        with pytest.raises(RuntimeError), backend.transaction("register and audit"):
            backend.registry.add_version(version, event)
            backend.incidents.record_action(outcome)
            assert backend.registry.revision("fraud") == (1, T)  # seen inside the block
            raise RuntimeError("the third step failed")
        assert backend.registry.revision("fraud") is None
        assert backend.incidents.actions() == []
        with backend.transaction("register and audit"):
            backend.registry.add_version(version, event)
            with pytest.raises(StoreError):  # a savepoint: this fails alone
                backend.registry.add_version(version, event)
            backend.incidents.record_action(outcome)
        assert backend.registry.revision("fraud") == (1, T)
        assert backend.incidents.actions() == [outcome]
    finally:
        backend.close()


def test_postgres_event_store_forgets_batch_ids_received_before_the_retention(
    postgres: Database,
) -> None:
    store = PostgresEventStore(postgres)
    try:
        old = AcceptedBatch("old", T - 86_400, predictions=[_block(["a"])])
        store.append(old).result(10)
        store.append(AcceptedBatch("new", T, predictions=[_block(["b"])])).result(10)
        assert store.delete_events_before(T - 3600) == 1  # no ts: stamped when received
        assert postgres.rows("test", "read", "SELECT batch_id FROM batches") == [("new",)]
        assert not store.append(old).result(10).duplicate  # stored again: it was forgotten
    finally:
        store.close()


def test_postgres_database_says_where_it_could_not_connect() -> None:
    with pytest.raises(StoreError, match="unreachable") as caught:
        Database("postgresql://ops:secret@127.0.0.1:9/mlpulse", timeout_s=1)
    assert "open postgresql://ops:***@127.0.0.1:9/mlpulse" in str(caught.value)
    assert "secret" not in str(caught.value)


def test_postgres_event_store_takes_new_models_and_features_without_ddl(
    postgres: Database,
) -> None:
    def relations() -> list[tuple[object, ...]]:
        return postgres.rows(
            "test", "list relations",
            "SELECT relname, relnatts FROM pg_class "
            "WHERE relnamespace = current_schema()::regnamespace ORDER BY relname",
        )  # fmt: skip

    before = relations()
    store = PostgresEventStore(postgres)
    try:
        models = [
            PredictionBlock(model=f"m{i}", version="v1", request_id=["r"], latency_ms=[1.0])
            for i in range(1000)
        ]
        wide = PredictionBlock(
            model="wide", version="v1", request_id=["a", "b"],
            features={f"f{j}": [float(j), None] for j in range(5000)},
        )  # fmt: skip
        stored = store.append(AcceptedBatch("b", T, predictions=[*models, wide])).result(30)
        assert stored.accepted == 1002
        assert [s.count for s in store.version_summaries("m999", start=T, end=T + 1)] == [1]
        features = postgres.rows(
            "test", "read", "SELECT request_id, features::text FROM predictions "
            "WHERE model = 'wide' ORDER BY request_id",
        )  # fmt: skip
        assert features[0][1].count('"f') == 5000 and features[1] == ("b", "{}")
    finally:
        store.close()
    assert relations() == before  # no table, column or index was made for them
