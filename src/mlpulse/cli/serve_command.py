"""``mlpulse serve``: the collector, with start-up failures said in one line.

A collector that cannot start (a bad flag, the port in use, an unreadable store, a bad
``MLPULSE_STORE``, a missing extra) prints ``error: <cause>`` (and a hint) and exits 1
(2 for a bad flag); ``mlpulse --debug serve`` also prints the traceback. uvicorn logs a
failure in the app's start-up as a whole traceback: :class:`StartupFailure` keeps its
last line (the cause) and, without ``--debug``, keeps the rest out of the log.
"""

from __future__ import annotations

import logging
import logging.config
import socket
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from mlpulse.cli.failures import debug_requested, missing_module_hint
from mlpulse.errors import MlpulseError
from mlpulse.server.log_format import logging_config
from mlpulse.server.settings import Settings

err = Console(stderr=True, soft_wrap=True)


def fail(message: str, *, hint: str = "", code: int = 1) -> NoReturn:
    line = " ".join(message.split())  # one line, whatever the cause's own text holds
    err.print(f"[red]error:[/] {escape(line)}" + (f" ({escape(hint)})" if hint else ""))
    raise typer.Exit(code)


class StartupFailure(logging.Filter):
    """Watches uvicorn's log for the traceback of a failed start-up; keeps its last line
    and, unless ``debug``, drops the traceback and uvicorn's own "Exiting" line."""

    def __init__(self, *, debug: bool) -> None:
        super().__init__()
        self.debug = debug
        self.cause: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Traceback") or record.exc_info:
            lines = [line for line in message.strip().splitlines() if line.strip()]
            if record.exc_info and record.exc_info[1] is not None:
                lines.append(f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}")
            self.cause = _cause(lines[-1]) if lines else None
            return self.debug
        return self.debug or message != "Application startup failed. Exiting."


def _cause(line: str) -> str:
    """``mlpulse.errors.StoreError: cannot open ...`` → ``cannot open ...``; other
    exceptions keep their type's name."""
    kind, sep, text = line.partition(": ")
    if sep and kind.startswith("mlpulse.errors."):
        return text
    return f"{kind.rsplit('.', 1)[-1]}: {text}" if sep else line


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that "port in use" is one clear line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        fail(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="is another collector running? choose a port with --port or MLPULSE_PORT",
        )
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Where the store lives [env MLPULSE_DATA_DIR, ./mlpulse-data]"
        ),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [8080]")] = None,
) -> None:
    """Run the collector (HTTP API, /metrics) on the store MLPULSE_STORE names."""
    if port is not None and not 0 <= port <= 65535:
        fail(f"--port must be in [0, 65535]; got {port}", code=2)
    debug = debug_requested(ctx)
    try:
        import uvicorn

        from mlpulse.adapters.store.factory import open_metadata
        from mlpulse.server.app import create_app
        from mlpulse.server.http_server import CollectorServer
    except ModuleNotFoundError as exc:
        if debug:
            raise
        fail(f"the collector needs the module {exc.name!r}", hint=missing_module_hint(exc.name))
    try:
        settings = Settings.from_env(None, data_dir=data_dir, host=host, port=port)
    except MlpulseError as exc:  # a bad MLPULSE_* variable (the flags are checked above)
        fail(str(exc))
    # Before anything logs: MLPULSE_LOG_FORMAT (text or JSON lines) and MLPULSE_LOG_LEVEL.
    logging.config.dictConfig(
        logging_config(log_format=settings.log_format, level=settings.log_level)
    )
    try:
        with open_metadata(settings) as metadata:
            keys = metadata.list_keys()
    except MlpulseError as exc:  # a bad MLPULSE_STORE, an unreadable database
        if debug:
            raise
        fail(str(exc))
    except ModuleNotFoundError as exc:  # psycopg, for a postgresql:// store
        if debug:
            raise
        fail(f"the store needs the module {exc.name!r}", hint=missing_module_hint(exc.name))
    sock = _listen(settings.host, settings.port)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # configured above
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    if not keys:
        hint = f"mlpulse keys create --scope admin --data-dir {settings.data_dir}"
        if settings.log_format == "json":  # every stderr line stays a JSON object
            logging.getLogger("mlpulse.serve").warning("No API keys yet. Create one with: %s", hint)
        else:
            err.print(f"[yellow]No API keys yet.[/] Create one with: {hint}")
    server = CollectorServer(config, app)
    watch = StartupFailure(debug=debug)
    logger = logging.getLogger("uvicorn.error")
    logger.addFilter(watch)
    try:
        server.run(sockets=[sock])
    except SystemExit:  # uvicorn's exit when the app's start-up failed
        pass
    finally:
        logger.removeFilter(watch)
        sock.close()
    if not server.started:
        hint = "" if debug else "run with --debug for the traceback"
        fail(watch.cause or "the collector did not start", hint=hint)
