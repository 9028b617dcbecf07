"""``/v1/admin/backup`` (admin scope) and ``/v1/health`` (read scope).

A backup goes through the collector because it holds the DuckDB file: no other process
can open it meanwhile. The archive is built in a file inside the data directory, then
streamed and deleted; ingest goes on throughout (see backup_snapshot.py).
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Annotated, Literal, Protocol

import duckdb
from fastapi import APIRouter, Depends, Query, Request
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, JSONResponse

from mlpulse.adapters.store.maintenance import backup
from mlpulse.domain.auth import Scope
from mlpulse.errors import ConfigurationError, StoreBusyError
from mlpulse.server.auth import require
from mlpulse.server.settings import Settings

router = APIRouter(tags=["admin"])
# One backup at a time: each stages a copy of the whole store on disk.
_running = threading.Lock()


class LiveDuckDB(Protocol):
    """The embedded event store as a backup sees it: its file and a cursor on it."""

    path: Path

    def connection(self) -> duckdb.DuckDBPyConnection: ...


def _live(request: Request) -> LiveDuckDB:
    store: LiveDuckDB | None = getattr(request.app.state, "store", None)
    if not (hasattr(store, "connection") and isinstance(getattr(store, "path", None), Path)):
        raise ConfigurationError(
            "this collector's store has no embedded DuckDB file to back up through it; "
            "for PostgreSQL run `mlpulse backup --store postgresql://...` (pg_dump)"
        )
    assert store is not None
    return store


@router.post(
    "/v1/admin/backup",
    summary="A consistent backup of the embedded store, as a tar archive with a manifest",
    dependencies=[Depends(require(Scope.ADMIN))],
    response_class=FileResponse,
)
def create_backup(
    request: Request,
    compression: Annotated[Literal["gzip", "none"], Query()] = "gzip",
) -> FileResponse:
    settings: Settings = request.app.state.settings
    store = _live(request)
    if not _running.acquire(blocking=False):
        raise StoreBusyError("a backup is already running; retry when it is done")
    suffix = ".tar.gz" if compression == "gzip" else ".tar"
    path = settings.data_dir / f".backup-{uuid.uuid4().hex[:12]}{suffix}"
    try:
        cursor = store.connection()
        try:
            with path.open("wb") as out:
                backup(
                    settings.data_dir, out, live=(store.path.name, cursor),
                    gzip=compression == "gzip",
                )  # fmt: skip
        finally:
            cursor.close()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        _running.release()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return FileResponse(
        path,
        media_type="application/gzip" if compression == "gzip" else "application/x-tar",
        filename=f"mlpulse-backup-{stamp}{suffix}",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get(
    "/v1/health",
    summary="The store's health: data found missing at start, and what the store holds",
    dependencies=[Depends(require(Scope.READ))],
)
def health(request: Request) -> JSONResponse:
    store = getattr(request.app.state, "store", None)
    durability = getattr(store, "durability", None)
    report = durability.report() if durability is not None else {"findings": []}
    healthy = store is not None and store.is_healthy()
    status = "unavailable" if not healthy else "degraded" if report["findings"] else "ok"
    return JSONResponse({"status": status, "store": report})
