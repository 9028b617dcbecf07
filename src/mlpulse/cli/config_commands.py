"""``mlpulse apply``, ``mlpulse plan`` and ``mlpulse reference upload``.

``apply`` validates the file here (where its reference files are), uploads each model's
reference file, then sends the document to the collector, which validates it again and
answers with the plan it applied. ``plan`` compares the file with the applied document.

Both print a warning (on stderr) for each name in the file that nothing matches
(:mod:`mlpulse.domain.config_warnings`): against the series the collector writes and the
models and columns it has seen. Warnings leave the exit code at 0 (a model may not have
sent traffic yet) unless ``--strict``: then ``plan`` exits 1 and ``apply`` applies
nothing and exits 1. ``plan --offline`` needs no collector: it checks the file and the
series names, labels and names the file declares, but shows no changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
import msgspec
import typer
from rich.markup import escape

from mlpulse.cli.api import ApiKey, Url, call, client, err
from mlpulse.domain.config_plan import plan
from mlpulse.domain.config_warnings import Seen, config_warnings
from mlpulse.domain.monitoring import Config
from mlpulse.errors import ConfigFileError, ConfigProblem

reference_app = typer.Typer(help="Upload or pin the reference drift is measured against.")

ConfigFile = Annotated[Path, typer.Option("-f", "--file", help="The mlpulse.yaml to use")]
Strict = Annotated[
    bool, typer.Option("--strict", help="Exit 1 on warnings (apply: and apply nothing)")
]
Offline = Annotated[
    bool,
    typer.Option(
        "--offline",
        help="Check the file without a collector (series and names it declares; no changes)",
    ),
]

_MEDIA = {".parquet": "application/vnd.apache.parquet", ".csv": "text/csv"}


def _load(path: Path) -> Config:
    from mlpulse.adapters.config.yaml_file import load_config

    try:
        return load_config(path)
    except ConfigFileError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


def _applied(http: httpx.Client) -> Config:
    found = call(http, "GET", "/v1/config")
    if found.get("config") is None:
        return Config(version=1)
    return msgspec.convert(found["config"], Config)


def upload_reference(
    http: httpx.Client, model: str, file: Path, **params: str | None
) -> dict[str, Any]:
    media = _MEDIA.get(file.suffix.lower())
    if media is None:
        err.print(f"[red]error:[/] {file}: expected a .csv or .parquet file")
        raise typer.Exit(2)
    if not file.is_file():
        err.print(f"[red]error:[/] {file}: no such file")
        raise typer.Exit(2)
    query = {k: v for k, v in params.items() if v is not None}
    query["name"] = file.name
    found: dict[str, Any] = call(
        http, "POST", f"/v1/models/{model}/reference", params=query,
        content=file.read_bytes(), headers={"Content-Type": media},
    )  # fmt: skip
    return found


def seen_by(http: httpx.Client) -> Seen:
    """The models, columns and label values the collector has seen."""
    found = call(http, "GET", "/v1/config/known")
    return Seen(
        models={m: frozenset(columns) for m, columns in found["models"].items()},
        labels={k: frozenset(values) for k, values in found["labels"].items()},
    )


def _warn(file: Path, warnings: list[ConfigProblem]) -> None:
    for warning in warnings:
        err.print(f"[yellow]warning:[/] {escape(f'{file}: {warning}')}")


def plan_command(
    file: ConfigFile,
    url: Url = None,
    api_key: ApiKey = None,
    strict: Strict = False,
    offline: Offline = False,
) -> None:
    """Show what `mlpulse apply` would change, and warn about names nothing matches.

    Exits 0 with or without changes or warnings; 1 on warnings with --strict; 2 when
    the file has errors.
    """
    desired = _load(file)
    if offline:
        warnings = config_warnings(desired)
        typer.echo("The file is valid (offline: not compared with the collector).")
    else:
        with client(url, api_key) as http:
            warnings = config_warnings(desired, seen=seen_by(http))
            typer.echo(plan(_applied(http), desired).render())
    _warn(file, warnings)
    if warnings and strict:
        err.print(f"{len(warnings)} warning(s) with --strict")
        raise typer.Exit(1)


def apply_command(
    file: ConfigFile, url: Url = None, api_key: ApiKey = None, strict: Strict = False
) -> None:
    """Validate mlpulse.yaml, upload its reference files and apply it to the collector."""
    desired = _load(file)
    with client(url, api_key) as http:
        if strict:
            warnings = config_warnings(desired, seen=seen_by(http))
            if warnings:
                _warn(file, warnings)
                err.print(f"{len(warnings)} warning(s) with --strict: nothing applied")
                raise typer.Exit(1)
        for name, model in desired.models.items():
            reference = model.reference
            if reference is not None and reference.file is not None:
                found = upload_reference(
                    http, name, Path(reference.file), version=reference.version,
                    label_column=reference.label_column,
                    prediction_column=reference.prediction_column,
                    score_column=reference.score_column,
                )  # fmt: skip
                err.print(f"reference of {name}: {found['rows']:,} rows from {reference.file}")
            elif reference is not None and reference.window is not None:
                body = {
                    "start": reference.window.start.timestamp(),
                    "end": reference.window.end.timestamp(),
                    "version": reference.version or "",
                }
                call(http, "POST", f"/v1/models/{name}/reference/window", json=body)
                err.print(f"reference of {name}: pinned window")
        result = call(
            http, "PUT", "/v1/config", content=msgspec.json.encode(desired),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
    typer.echo(result["plan"])
    _warn(file, [ConfigProblem(w["path"], w["message"]) for w in result.get("warnings", [])])


@reference_app.command("upload")
def reference_upload(
    model: Annotated[str, typer.Option(help="The model the reference is for")],
    file: Annotated[Path, typer.Option("-f", "--file", help="Training data: CSV or Parquet")],
    version: Annotated[str | None, typer.Option(help="The version it describes")] = None,
    label_column: Annotated[str | None, typer.Option(help="Column with the labels")] = None,
    prediction_column: Annotated[str | None, typer.Option(help="Column with predictions")] = None,
    score_column: Annotated[str | None, typer.Option(help="Column with scores")] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Upload training data as a model's reference."""
    with client(url, api_key) as http:
        found = upload_reference(
            http, model, file, version=version, label_column=label_column,
            prediction_column=prediction_column, score_column=score_column,
        )  # fmt: skip
    err.print(
        f"reference of {model}: {found['rows']:,} rows, {len(found['columns'])} columns"
        f"{', ' + str(found['sample_rows']) + ' calibration rows' if found['sample_rows'] else ''}"
    )
