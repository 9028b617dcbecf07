from __future__ import annotations

from pathlib import Path

from mlpulse.adapters.store.sqlite_metadata import SQLiteMetadataStore
from mlpulse.domain.auth import Scope, hash_token
from mlpulse.domain.schema import ColumnKind


def test_keys_are_found_by_token_hash_and_never_stored_in_clear(tmp_path: Path) -> None:
    store = SQLiteMetadataStore(tmp_path / "m.sqlite")
    key, token = store.create_key([Scope.INGEST, Scope.READ], name="serving", now=1.0)
    assert token.startswith("mlp_")
    assert store.find_key(hash_token(token)) == key
    assert store.find_key(hash_token(token + "x")) is None
    store.close()
    assert token.encode() not in (tmp_path / "m.sqlite").read_bytes()


def test_revoked_key_stays_listed_but_inactive(tmp_path: Path) -> None:
    store = SQLiteMetadataStore(tmp_path / "m.sqlite")
    key, token = store.create_key([Scope.ADMIN], name="old", now=1.0)
    assert store.revoke_key(key.key_id, now=2.0)
    found = store.find_key(hash_token(token))
    assert found is not None and not found.active
    assert store.revoke_key(key.key_id, now=3.0)  # revoking twice is not an error
    assert not store.revoke_key("nope", now=3.0)
    assert [k.key_id for k in store.list_keys()] == [key.key_id]


def test_a_second_process_can_write_keys_beside_an_open_store(tmp_path: Path) -> None:
    collector_side = SQLiteMetadataStore(tmp_path / "m.sqlite")
    cli_side = SQLiteMetadataStore(tmp_path / "m.sqlite")
    _, token = cli_side.create_key([Scope.READ], name="cli", now=1.0)
    cli_side.close()
    assert collector_side.find_key(hash_token(token)) is not None


def test_models_keep_first_seen_and_overrides_win(tmp_path: Path) -> None:
    store = SQLiteMetadataStore(tmp_path / "m.sqlite")
    store.upsert_models({("fraud", "v1"): {"zip": ColumnKind.NUMERIC}}, now=10.0)
    store.upsert_models(
        {("fraud", "v1"): {}, ("fraud", "v2"): {"age": ColumnKind.NUMERIC}}, now=20.0
    )
    store.set_schema_overrides("fraud", {"zip": ColumnKind.CATEGORICAL})
    (info,) = store.list_models()
    assert [(v.version, v.first_seen) for v in info.versions] == [("v1", 10.0), ("v2", 20.0)]
    assert info.schema == {"zip": ColumnKind.CATEGORICAL, "age": ColumnKind.NUMERIC}
    assert store.known_columns() == {"fraud": {"zip", "age"}}
    assert store.known_versions() == {("fraud", "v1"), ("fraud", "v2")}
