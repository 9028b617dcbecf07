"""Backup and restore of the embedded store's files, with no collector running."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import duckdb
import msgspec
import pytest

from mlpulse.adapters.store.backup_archive import MANIFEST, Manifest, backup, restore
from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.sqlite_metadata import SQLiteMetadataStore
from mlpulse.domain.auth import Scope
from mlpulse.domain.blocks import blocks_from_rows
from mlpulse.domain.events import Label, Prediction
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.errors import ConfigurationError, InvalidInputError, StoreError

NOW = 1_767_225_600.0


def _fill(data_dir: Path, *, batches: int = 3, per_batch: int = 50) -> str:
    """A closed store: predictions and labels in DuckDB, a key in SQLite, a secret file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = DuckDBEventStore(data_dir / "events.duckdb")
    for b in range(batches):
        rows = [
            Prediction(model="fraud", version="v1", request_id=f"b{b}-{i}",
                       features={"amount": float(i)}, prediction=0.5, timestamp=NOW + i)
            for i in range(per_batch)
        ]  # fmt: skip
        labels = [Label(model="fraud", request_id=f"b{b}-0", label=1.0)]
        store.append(
            AcceptedBatch(f"b{b}", NOW, predictions=blocks_from_rows(rows), labels=labels)
        ).result(10)
    store.close()
    metadata = SQLiteMetadataStore(data_dir / "metadata.sqlite")
    token = metadata.create_key([Scope.ADMIN], name="ops", now=NOW)[1]
    metadata.close()
    (data_dir / "dashboard.secret").write_bytes(b"s" * 32)
    (data_dir / "dashboard.secret").chmod(0o600)
    return token


def _backup(data_dir: Path, archive: Path) -> Manifest:
    with archive.open("wb") as out:
        return backup(data_dir, out)


def _rows(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # type: ignore[index]


def test_backup_restores_every_table_and_row_when_no_collector_runs(tmp_path: Path) -> None:
    source, archive, target = tmp_path / "data", tmp_path / "b.tar.gz", tmp_path / "restored"
    token = _fill(source)

    manifest = _backup(source, archive)
    restored = restore(archive, target)

    assert restored == manifest
    names = {f.name: f for f in manifest.files}
    assert set(names) == {"events.duckdb", "metadata.sqlite", "dashboard.secret"}
    assert names["events.duckdb"].tables["batches"] == 3
    assert names["events.duckdb"].tables["labels"] == 3
    assert _rows(target / "events.duckdb") == _rows(source / "events.duckdb")
    assert (target / "dashboard.secret").stat().st_mode & 0o777 == 0o600
    reopened = DuckDBEventStore(target / "events.duckdb")
    assert reopened.count("prediction") == 150
    reopened.close()
    metadata = SQLiteMetadataStore(target / "metadata.sqlite")
    assert [k.name for k in metadata.list_keys()] == ["ops"]
    assert token.startswith("mlp_")
    metadata.close()
    assert not list(target.glob(".restore-*")) and not list(source.glob(".backup-*"))


def test_backup_copies_every_sqlite_file_the_directory_holds(tmp_path: Path) -> None:
    source = tmp_path / "data"
    _fill(source)
    for name in ("one", "two"):
        db = sqlite3.connect(source / f"{name}.sqlite")
        db.execute("CREATE TABLE t (x)")
        db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(7)])
        db.commit()
        db.close()

    manifest = _backup(source, tmp_path / "b.tar")

    rows = manifest.rows()
    assert rows["one.sqlite"] == {"t": 7} and rows["two.sqlite"] == {"t": 7}
    with tarfile.open(tmp_path / "b.tar") as tar:
        assert tar.getnames()[0] == MANIFEST


def test_restore_refuses_a_directory_that_is_not_empty_unless_forced(tmp_path: Path) -> None:
    source, archive, target = tmp_path / "data", tmp_path / "b.tar.gz", tmp_path / "other"
    _fill(source)
    _backup(source, archive)
    _fill(target, batches=1)
    (target / "collector.log").write_text("kept")

    with pytest.raises(ConfigurationError, match="not empty"):
        restore(archive, target)
    assert _rows(target / "events.duckdb")["batches"] == 1

    restore(archive, target, force=True)
    assert _rows(target / "events.duckdb")["batches"] == 3
    assert (target / "collector.log").read_text() == "kept"


def _rewrite(archive: Path, tampered: Path, change: str) -> None:
    """A copy of ``archive`` with one member's bytes changed (its manifest unchanged)."""
    with tarfile.open(archive) as src, tarfile.open(tampered, "w") as out:
        for member in src:
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == change:
                data = data[:-1] + bytes([data[-1] ^ 1])
            out.addfile(member, io.BytesIO(data))


def test_restore_refuses_a_file_that_differs_from_its_checksum(tmp_path: Path) -> None:
    source, archive, target = tmp_path / "data", tmp_path / "b.tar", tmp_path / "restored"
    _fill(source)
    _backup(source, archive)
    _rewrite(archive, tmp_path / "bad.tar", "metadata.sqlite")

    with pytest.raises(InvalidInputError, match=r"metadata\.sqlite does not match its checksum"):
        restore(tmp_path / "bad.tar", target)
    assert list(target.iterdir()) == []


def test_restore_refuses_an_archive_without_a_manifest(tmp_path: Path) -> None:
    archive = tmp_path / "plain.tar.gz"
    (tmp_path / "x.txt").write_text("x")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "x.txt", arcname="x.txt")

    with pytest.raises(InvalidInputError, match="not an mlpulse backup"):
        restore(archive, tmp_path / "restored")


def test_restore_refuses_a_manifest_naming_a_path_outside_the_target(tmp_path: Path) -> None:
    evil = {"name": "../evil", "kind": "file", "bytes": 1, "sha256": "", "tables": {}}
    manifest = {"format": "mlpulse-backup", "version": 1, "mlpulse_version": "0",
                "created_at": 0.0, "created": "", "source": "files", "files": [evil]}  # fmt: skip
    body = msgspec.json.encode(manifest)
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))

    with pytest.raises(InvalidInputError, match="bad file"):
        restore(archive, tmp_path / "restored")
    assert not (tmp_path / "evil").exists()


def test_backup_says_to_go_through_the_collector_when_it_holds_the_file(tmp_path: Path) -> None:
    source = tmp_path / "data"
    _fill(source)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "time.sleep(60)", str(source / "events.duckdb")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match="back up through the collector"):
            _backup(source, tmp_path / "b.tar.gz")
        with pytest.raises(ConfigurationError, match="running collector holds"):
            restore(tmp_path / "any.tar", source, force=True)
    finally:
        holder.kill()
        holder.communicate(timeout=10)


def test_backup_removes_what_a_backup_that_died_a_day_ago_left(tmp_path: Path) -> None:
    source = tmp_path / "data"
    _fill(source)
    old, fresh = source / ".backup-old", source / ".backup-fresh.tar.gz"
    old.mkdir()
    (old / "events.duckdb").write_bytes(b"x")
    fresh.write_bytes(b"being streamed")
    day_ago = time.time() - 86400 - 60
    os.utime(old, (day_ago, day_ago))

    _backup(source, tmp_path / "b.tar")

    assert not old.exists() and fresh.exists()
