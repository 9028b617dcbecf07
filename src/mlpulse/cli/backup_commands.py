"""``mlpulse backup``, ``mlpulse restore`` and ``mlpulse doctor``.

An embedded store's backup goes through a running collector (``--url``: it holds the
DuckDB file) or reads the files directly when none runs (``--data-dir``); a PostgreSQL
store's (``--store postgresql://...``) runs pg_dump. The adapters are imported inside
the commands, so ``mlpulse --help`` stays fast.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import httpx
import typer
from rich.console import Console
from rich.table import Table

from mlpulse.cli.api import ApiKey, Url, checked, client
from mlpulse.errors import MlpulseError
from mlpulse.server.settings import Settings

if TYPE_CHECKING:
    from mlpulse.adapters.store.maintenance import Manifest

err = Console(stderr=True, soft_wrap=True)  # messages stay one line: grep-able in logs

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the store lives [env MLPULSE_DATA_DIR, ./mlpulse-data]"),
]


Store = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="A postgresql:// URL: back up or restore that database [env MLPULSE_STORE]",
    ),
]


def _postgres(store: str | None) -> str | None:
    """The PostgreSQL URL to work on, if the store is one (else the embedded store)."""
    value = (store or os.environ.get("MLPULSE_STORE", "")).strip()
    return value if value.startswith(("postgresql://", "postgres://")) else None


def _data_dir(data_dir: Path | None) -> Path:
    try:
        return Settings.from_env(None, data_dir=data_dir).data_dir
    except MlpulseError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


def _print_manifest(manifest: Manifest, archive: Path, verb: str) -> None:
    table = Table("file", "bytes", "rows", "tables")
    for entry in manifest.files:
        rows = sum(entry.tables.values())
        table.add_row(entry.name, f"{entry.bytes:,}", f"{rows:,}", str(len(entry.tables)))
    Console(stderr=True).print(table)
    err.print(f"{verb} {archive} (taken {manifest.created} from {manifest.source})")


def backup_command(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Archive to write (.tar.gz or .tar)")
    ],
    url: Url = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
    store: Store = None,
) -> None:
    """Back up the store: the embedded one through the collector at --url, or from
    --data-dir's files when no collector runs; PostgreSQL (--store postgresql://...)
    with pg_dump. Writes a tar with a manifest (rows per table, checksums)."""
    from mlpulse.adapters.store.maintenance import backup, read_manifest

    gzip = not output.name.endswith(".tar")
    partial = output.with_name(output.name + ".partial")
    postgres = _postgres(store)
    try:
        with partial.open("wb") as out:
            if postgres is not None:
                from mlpulse.adapters.store.maintenance import backup_postgres

                backup_postgres(postgres, out, gzip=gzip)
            elif url is not None:
                with client(url, api_key) as http:
                    _download(http, out, gzip=gzip)
            else:
                backup(_data_dir(data_dir), out, gzip=gzip)
            out.flush()
            os.fsync(out.fileno())  # the archive is on disk before it takes its name
        with tarfile.open(partial, mode="r:*") as tar:
            manifest = read_manifest(tar, output)
        os.replace(partial, output)
    except MlpulseError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    finally:
        partial.unlink(missing_ok=True)
    _print_manifest(manifest, output, "wrote")


def _download(http: httpx.Client, sink: BinaryIO, *, gzip: bool) -> None:
    params = {"compression": "gzip" if gzip else "none"}
    try:
        with http.stream("POST", "/v1/admin/backup", params=params, timeout=None) as response:
            if not response.is_success:
                response.read()
                checked(response)
            for chunk in response.iter_bytes(1 << 20):
                sink.write(chunk)
    except httpx.TransportError as exc:
        err.print(f"[red]error:[/] cannot reach the collector at {http.base_url}: {exc}")
        raise typer.Exit(1) from exc


def restore_command(
    archive: Annotated[Path, typer.Argument(help="A backup written by mlpulse backup")],
    data_dir: DataDir = None,
    store: Store = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the store files of a non-empty directory "
                     "(or the dump's tables of a non-empty database)"),
    ] = False,
) -> None:  # fmt: skip
    """Restore a backup into a data directory, or a PostgreSQL database with --store
    (refused when it is not empty, unless --force). Checks every checksum and row count
    before moving a file into place."""
    from mlpulse.adapters.store.maintenance import restore

    if not archive.is_file():
        err.print(f"[red]error:[/] no such file: {archive}")
        raise typer.Exit(2)
    postgres = _postgres(store)
    try:
        if postgres is not None:
            from mlpulse.adapters.store.maintenance import restore_postgres

            manifest = restore_postgres(archive, postgres, force=force)
            where = "PostgreSQL"
        else:
            target = _data_dir(data_dir)
            manifest = restore(archive, target, force=force)
            where = str(target)
    except MlpulseError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    _print_manifest(manifest, archive, f"restored into {where} from")


def doctor_command(
    url: Url = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
) -> None:
    """Check the store against its record (store.json): acknowledged data missing after a
    crash, a damaged log or an emptied file. Through the collector at --url, or from
    --data-dir's files when none runs. Exits 1 when something is missing."""
    if url is not None:
        with client(url, api_key) as http:
            try:
                health = checked(http.get("/v1/health"))
            except httpx.TransportError as exc:
                err.print(f"[red]error:[/] cannot reach the collector at {http.base_url}: {exc}")
                raise typer.Exit(1) from exc
        findings = health["store"]["findings"]
        earlier = health["store"].get("earlier_findings", [])
    else:
        findings, earlier = _doctor_files(_data_dir(data_dir))
    for finding in earlier:
        err.print(f"[yellow]found at an earlier start:[/] {finding['message']}")
    for finding in findings:
        err.print(f"[red]MISSING:[/] {finding['message']}")
    if findings:
        raise typer.Exit(1)
    err.print("[green]ok:[/] the store holds everything its record says it held")


def _doctor_files(data_dir: Path) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    import time

    import duckdb
    import msgspec

    from mlpulse.adapters.store.maintenance import MARKER, check_directory

    events = Settings.from_env(None, data_dir=data_dir).events_path
    try:
        record, findings = check_directory(events, now=time.time())
    except duckdb.IOException as exc:
        err.print(f"[red]error:[/] {exc}. A collector holds the store: use --url and --api-key")
        raise typer.Exit(2) from exc
    if record is None:
        err.print(f"no {MARKER} in {data_dir}: a new store, or one no collector of this "
                  "version has opened yet; nothing to compare")  # fmt: skip
        return [], []
    return msgspec.to_builtins(findings), msgspec.to_builtins(record.findings)
