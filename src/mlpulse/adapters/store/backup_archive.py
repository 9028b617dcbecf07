"""The backup archive: a tar (gzip-compressed or not) with a manifest, and its restore.

Layout: ``manifest.json`` first (format, version, time, and for every file its size,
SHA-256 and rows per table), then one member per file, named as in the data directory.
A restore reads the manifest, unpacks into a staging directory inside the target,
checks every size and checksum, opens every database and compares its rows with the
manifest, and only then moves the files into place. A target that holds anything is
refused unless ``force``; a target a collector holds is always refused.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sqlite3
import tarfile
import time
import uuid
from collections.abc import Iterable
from contextlib import ExitStack, closing
from datetime import UTC, datetime
from gzip import GzipFile
from importlib.metadata import version
from pathlib import Path
from typing import IO, Final

import duckdb
import msgspec

from mlpulse.adapters.store.backup_snapshot import (
    FileCopy,
    duckdb_tables,
    snapshot,
    sqlite_tables,
)
from mlpulse.errors import ConfigurationError, InvalidInputError, StoreError

FORMAT: Final = "mlpulse-backup"
VERSION: Final = 1
MANIFEST: Final = "manifest.json"
_CHUNK: Final = 1 << 20
# What a restore with --force clears from the target first: the store's files and
# their side files. Anything else there (logs, reports) is left alone.
_STORE_PATTERNS: Final = (
    "*.duckdb", "*.duckdb.wal", "*.sqlite", "*.sqlite-wal", "*.sqlite-shm", "*.sqlite-journal",
    "store.json", "dashboard.secret",
)  # fmt: skip


class ManifestFile(msgspec.Struct, frozen=True):
    name: str
    kind: str
    bytes: int
    sha256: str
    tables: dict[str, int]


class Manifest(msgspec.Struct, frozen=True):
    format: str
    version: int
    mlpulse_version: str
    created_at: float
    created: str  # the same instant, ISO 8601 UTC, for people reading the file
    source: str  # "collector" (through a running collector) or "files"
    files: list[ManifestFile]

    def rows(self) -> dict[str, dict[str, int]]:
        """Rows per table per file."""
        return {f.name: f.tables for f in self.files}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_of(copies: Iterable[FileCopy], *, source: str, now: float | None = None) -> Manifest:
    now = time.time() if now is None else now
    return Manifest(
        format=FORMAT,
        version=VERSION,
        mlpulse_version=version("mlpulse"),
        created_at=now,
        created=datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        source=source,
        files=[
            ManifestFile(c.name, c.kind, c.path.stat().st_size, _sha256(c.path), c.tables)
            for c in copies
        ],
    )


def write_archive(copies: list[FileCopy], out: IO[bytes], *, source: str, gzip: bool) -> Manifest:
    """Write the archive of ``copies`` to ``out``, gzip-compressed at level 1: DuckDB's
    pages are compressed already, and level 6 took 56% longer for 0.3% less (a 42 MB file,
    see docs/production.md)."""
    manifest = manifest_of(copies, source=source)
    body = msgspec.json.format(msgspec.json.encode(manifest))
    with ExitStack() as stack:
        sink = (
            stack.enter_context(GzipFile(fileobj=out, mode="wb", compresslevel=1)) if gzip else out
        )
        tar = stack.enter_context(tarfile.open(fileobj=sink, mode="w"))
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime, info.mode = len(body), int(manifest.created_at), 0o644
        tar.addfile(info, io.BytesIO(body))
        for copy in copies:
            tar.add(str(copy.path), arcname=copy.name, recursive=False)
    return manifest


# -- restore -------------------------------------------------------------------------------


def read_manifest(tar: tarfile.TarFile, archive: Path) -> Manifest:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile():
        raise InvalidInputError(f"{archive} is not an mlpulse backup: no {MANIFEST} first")
    extracted = tar.extractfile(first)
    assert extracted is not None
    try:
        manifest = msgspec.json.decode(extracted.read(), type=Manifest)
    except msgspec.ValidationError as exc:
        raise InvalidInputError(f"{archive}: the manifest is not valid: {exc}") from exc
    if manifest.format != FORMAT or manifest.version > VERSION:
        raise InvalidInputError(
            f"{archive}: format {manifest.format!r} version {manifest.version}; this mlpulse "
            f"reads {FORMAT!r} up to version {VERSION}"
        )
    for entry in manifest.files:
        if entry.name in ("", ".", "..") or "/" in entry.name or "\\" in entry.name:
            raise InvalidInputError(f"{archive}: the manifest names a bad file {entry.name!r}")
    return manifest


def _check_target(target: Path, *, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise ConfigurationError(f"{target} exists and is not a directory")
    if not target.exists() or not any(target.iterdir()):
        return
    if not force:
        raise ConfigurationError(
            f"{target} is not empty; restore into a new directory, or pass --force to "
            "replace the store files there"
        )
    for path in target.glob("*.duckdb"):
        try:
            duckdb.connect(str(path), read_only=True).close()
        except duckdb.IOException as exc:
            raise ConfigurationError(
                f"a running collector holds {path}: stop it before restoring over it ({exc})"
            ) from exc
        except duckdb.Error:
            pass  # a damaged file is what a forced restore replaces


def unpack(tar: tarfile.TarFile, manifest: Manifest, staging: Path, archive: Path) -> None:
    expected = {f.name: f for f in manifest.files}
    seen: set[str] = set()
    for member in tar:  # from the start again: the manifest is passed over, once
        if member.name == MANIFEST and MANIFEST not in seen:
            seen.add(MANIFEST)
            continue
        entry = expected.get(member.name)
        if entry is None or not member.isfile() or member.name in seen:
            raise InvalidInputError(f"{archive}: unexpected member {member.name!r}")
        seen.add(member.name)
        source = tar.extractfile(member)
        assert source is not None
        digest = hashlib.sha256()
        size = 0
        with (staging / member.name).open("wb") as out:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size != entry.bytes or digest.hexdigest() != entry.sha256:
            raise InvalidInputError(
                f"{archive}: {member.name} does not match its checksum (got {size} bytes, "
                f"sha256 {digest.hexdigest()[:16]}…; the manifest says {entry.bytes} bytes, "
                f"{entry.sha256[:16]}…)"
            )
        if entry.kind == "file":
            os.chmod(staging / member.name, member.mode & 0o777)
    missing = sorted(set(expected) - seen - {MANIFEST})
    if missing:
        raise InvalidInputError(f"{archive} is incomplete: {', '.join(missing)} missing")


def _verify_opens(entry: ManifestFile, path: Path) -> None:
    """Open a restored database and compare its rows with the manifest."""
    try:
        if entry.kind == "duckdb":
            with duckdb.connect(str(path), read_only=True) as con:
                row = con.execute("SELECT current_database()").fetchone()
                assert row is not None
                tables = duckdb_tables(con, row[0])
        elif entry.kind == "sqlite":
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                check = db.execute("PRAGMA integrity_check").fetchone()
                if check is None or check[0] != "ok":
                    raise StoreError(f"{entry.name} fails SQLite's integrity check: {check}")
                tables = sqlite_tables(db)
        else:
            return
    except (duckdb.Error, sqlite3.Error) as exc:
        raise StoreError(f"the restored {entry.name} does not open: {exc}") from exc
    if tables != entry.tables:
        differ = sorted(
            f"{t}: {tables.get(t)} (backup: {entry.tables.get(t)})"
            for t in set(tables) | set(entry.tables)
            if tables.get(t) != entry.tables.get(t)
        )
        raise StoreError(f"the restored {entry.name} differs from the backup: {'; '.join(differ)}")


def restore(archive: Path, target: Path, *, force: bool = False) -> Manifest:
    """Restore ``archive`` into the data directory ``target``; the manifest restored."""
    _check_target(target, force=force)
    target.mkdir(parents=True, exist_ok=True)
    staging = target / f".restore-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        try:
            with tarfile.open(archive, mode="r:*") as tar:
                manifest = read_manifest(tar, archive)
                if any(f.kind == "postgres" for f in manifest.files):
                    raise InvalidInputError(
                        f"{archive} is a backup of PostgreSQL: restore it with --store "
                        "postgresql://..."
                    )
                unpack(tar, manifest, staging, archive)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InvalidInputError(f"cannot read the archive {archive}: {exc}") from exc
        for entry in manifest.files:
            _verify_opens(entry, staging / entry.name)
        if force:
            for pattern in _STORE_PATTERNS:
                for path in target.glob(pattern):
                    path.unlink()
        for entry in manifest.files:
            os.replace(staging / entry.name, target / entry.name)
        _fsync_dir(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


STALE_AFTER_S: Final = 86400.0


def remove_stale(data_dir: Path, *, now: float) -> list[Path]:
    """Remove what a backup or restore that died midway left (a day old or more)."""
    removed = []
    for path in [*data_dir.glob(".backup-*"), *data_dir.glob(".restore-*")]:
        try:
            if now - path.stat().st_mtime < STALE_AFTER_S:
                continue  # maybe another backup's, still being written or streamed
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed


def backup(
    data_dir: Path,
    out: IO[bytes],
    *,
    live: tuple[str, duckdb.DuckDBPyConnection] | None = None,
    gzip: bool = True,
) -> Manifest:
    """Snapshot the store in ``data_dir`` and write its archive to ``out``.

    The copies are staged in a directory inside ``data_dir`` (same file system, so it
    needs free space about the size of the store) and removed afterwards.
    """
    remove_stale(data_dir, now=time.time())
    staging = data_dir / f".backup-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        copies = snapshot(data_dir, staging, live=live)
        return write_archive(
            copies, out, source="collector" if live is not None else "files", gzip=gzip
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
