"""``mlpulse``: serve the collector, manage keys, run the demo."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from mlpulse import __version__
from mlpulse.cli import (
    alert_commands,
    backup_commands,
    bandit_commands,
    config_commands,
    experiment_admin_commands,
    experiment_commands,
    export_commands,
    incident_commands,
    registry_commands,
    report_commands,
    serve_command,
)
from mlpulse.cli.failures import run
from mlpulse.domain.auth import Scope
from mlpulse.errors import MlpulseError
from mlpulse.server.settings import Settings

if TYPE_CHECKING:
    from mlpulse.ports import MetadataStore

app = typer.Typer(help="mlpulse: monitoring for machine-learning systems in production.")
keys_app = typer.Typer(help="Create, list and revoke API keys.")
app.add_typer(keys_app, name="keys")
err = Console(stderr=True, soft_wrap=True)  # messages stay one line: grep-able in logs

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the store lives [env MLPULSE_DATA_DIR, ./mlpulse-data]"),
]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"mlpulse {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="On a failure, print the traceback too (not only its cause)"),
    ] = False,
) -> None:
    """Options of every command (the commands are below)."""


def _settings(**overrides: object) -> Settings:
    try:
        return Settings.from_env(None, **overrides)
    except MlpulseError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


app.command("serve")(serve_command.serve)


@contextmanager
def _metadata(settings: Settings) -> Iterator[MetadataStore]:
    """The metadata store alone: it opens beside a running collector."""
    # Imported here, not at the top: it keeps `mlpulse --help` fast.
    from mlpulse.adapters.store.factory import open_metadata

    with ExitStack() as stack:
        try:
            metadata = stack.enter_context(open_metadata(settings))
        except MlpulseError as exc:  # a bad MLPULSE_STORE, an unreadable database
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from exc
        yield metadata


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Bring the store's schema up to date (the collector also does this when it starts).

    On the embedded store, the separate files of earlier versions (alerts.sqlite,
    registry.sqlite, ...) are copied into metadata.sqlite and renamed *.migrated.
    """
    from mlpulse.adapters.store.factory import migrate as migrate_store

    settings = _settings(data_dir=data_dir)
    try:
        report = migrate_store(settings)
    except MlpulseError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    if report is None:
        err.print("PostgreSQL schema up to date")
        return
    err.print(f"{settings.metadata_path}: {report.describe()}")
    for table, rows in sorted(report.imported.items()):
        if rows:
            err.print(f"  {table}: {rows} rows copied")


@keys_app.command("create")
def keys_create(
    scope: Annotated[
        list[Scope],
        typer.Option("--scope", help="ingest, read, admin or alertmanager; repeat for several"),
    ],
    name: Annotated[str, typer.Option(help="What the key is for")] = "",
    data_dir: DataDir = None,
) -> None:
    """Create a key and print its token (shown once; only its hash is stored)."""
    with _metadata(_settings(data_dir=data_dir)) as metadata:
        key, token = metadata.create_key(scope, name=name, now=time.time())
    err.print(f"created key {key.key_id} with scopes {', '.join(sorted(key.scopes))}")
    typer.echo(token)


@keys_app.command("list")
def keys_list(data_dir: DataDir = None) -> None:
    """List keys (never their tokens)."""
    table = Table("key id", "name", "scopes", "created", "revoked")
    with _metadata(_settings(data_dir=data_dir)) as metadata:
        keys = metadata.list_keys()
    for key in keys:
        table.add_row(
            key.key_id,
            key.name,
            ", ".join(sorted(key.scopes)),
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(key.created_at)),
            ""
            if key.revoked_at is None
            else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(key.revoked_at)),
        )
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, data_dir: DataDir = None) -> None:
    """Revoke a key; a running collector refuses it within a few seconds."""
    with _metadata(_settings(data_dir=data_dir)) as metadata:
        revoked = metadata.revoke_key(key_id, now=time.time())
    if not revoked:
        err.print(f"[red]error:[/] no key with id {key_id!r}")
        raise typer.Exit(1)
    err.print(f"revoked key {key_id}")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the simulated day")] = 7,
    speed: Annotated[
        float,
        typer.Option(
            help="Simulated seconds per wall second (0: as fast as the machine goes)", min=0.0
        ),
    ] = 0.0,
    fast: Annotated[
        bool,
        typer.Option(
            "--fast",
            help="Log 1 request in 20 outside the fast failures, "
            "and step 5 minutes at a time there (for tests)",
        ),
    ] = False,
    scale: Annotated[
        float,
        typer.Option(
            help="Share of requests logged outside the fast failures "
            "(1: every request, about 10 minutes)",
            min=0.001,
            max=1.0,
        ),
    ] = 0.1,
    serve: Annotated[
        bool | None,
        typer.Option(
            "--serve/--no-serve",
            help="Keep the dashboard running afterwards "
            "[default: when standard input is a terminal]",
        ),
    ] = None,
    port: Annotated[int, typer.Option(help="Port of the collector (any free one if taken)")] = 8080,
    summary_json: Annotated[
        Path | None, typer.Option(help="Also write the summary to this JSON file")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """A simulated day of production on a fresh embedded store, with a live view.

    A recommendation platform (10,000,000 requests a day) and a real-time fraud model:
    a feature drifts, a bad deployment is rolled back, an A/B test is decided and
    promoted, and the fraud model's scores shift. Prints the measured detection and
    recovery times, writes an HTML report, then serves the dashboard until Ctrl-C.
    """
    from mlpulse.demo.run import DemoOptions, run_demo

    options = DemoOptions(
        seed=seed, speed=speed, fast=fast, scale=scale, data_dir=data_dir, port=port, serve=serve,
        summary_json=summary_json,
    )  # fmt: skip
    sys.exit(run_demo(options, Console()))


app.command("report")(report_commands.report_command)
app.command("check")(report_commands.check_command)
app.command("plan")(config_commands.plan_command)
app.command("apply")(config_commands.apply_command)
app.add_typer(config_commands.reference_app, name="reference")
app.add_typer(alert_commands.alerts_app, name="alerts")
app.add_typer(alert_commands.silences_app, name="silences")
app.command("outbox")(alert_commands.outbox_command)
app.add_typer(incident_commands.incidents_app, name="incidents")
app.command("sample-size")(experiment_commands.sample_size_command)
app.add_typer(experiment_admin_commands.experiments_app, name="experiments")
app.add_typer(registry_commands.registry_app, name="registry")
app.command("rollback")(registry_commands.rollback_command)
app.add_typer(bandit_commands.bandits_app, name="bandits")
app.command("backup")(backup_commands.backup_command)
app.command("restore")(backup_commands.restore_command)
app.command("doctor")(backup_commands.doctor_command)
app.add_typer(export_commands.export_app, name="export")


def main() -> None:
    run(app)
