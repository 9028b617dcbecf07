"""``mlpulse registry ...`` and ``mlpulse rollback``: the model registry from a shell."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console
from rich.table import Table

from mlpulse.cli.api import ApiKey, Url, call, client, err

registry_app = typer.Typer(help="Register versions, set traffic weights, promote, show history.")
# Piped (to grep, a log, a CI step) tables keep whole values rather than fit 80 columns.
out = Console() if sys.stdout.isatty() else Console(width=240)

Reason = Annotated[str, typer.Option(help="Why (kept in the deployment history)")]


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def _pairs(items: list[str], option: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            err.print(f"[red]error:[/] {option} must look like key=value; got {item!r}")
            raise typer.Exit(2)
        found[key] = value
    return found


def _entries(items: list[str]) -> list[dict[str, Any]]:
    """``v1=champion:90`` as ``{"version": "v1", "stage": "champion", "weight": 90}``."""
    entries = []
    for version, target in _pairs(items, "each routing entry").items():
        stage, _, weight = target.partition(":")
        if not weight.isdigit():
            err.print(
                f"[red]error:[/] write each entry as VERSION=STAGE:WEIGHT (v2=challenger:10); "
                f"got {version}={target}"
            )
            raise typer.Exit(2)
        entries.append({"version": version, "stage": stage, "weight": int(weight)})
    return entries


def _print_table(table: dict[str, Any]) -> None:
    routes = ", ".join(f"{e['version']} {e['stage']} {e['weight']}%" for e in table["entries"])
    err.print(
        f"{table['model']} revision {table['revision']}: {routes or 'no versions'} "
        f"(fallback {table['fallback'] or 'none'})"
    )


@registry_app.command("register")
def register(
    model: str,
    version: str,
    artifact_uri: Annotated[str, typer.Option(help="Where the artifact is (s3://, gs://, ...)")],
    meta: Annotated[
        list[str] | None, typer.Option(help="key=value metadata (repeat for several)")
    ] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Register a version: shadow at weight 0, or champion at 100 if it is the model's first."""
    body = {
        "version": version,
        "artifact_uri": artifact_uri,
        "metadata": _pairs(meta or [], "--meta"),
    }
    with client(url, api_key) as http:
        added = call(http, "POST", f"/v1/registry/{quote(model)}/versions", json=body)
    err.print(f"registered {model} {added['version']} as {added['stage']} ({added['weight']}%)")


@registry_app.command("show")
def show(model: str, url: Url = None, api_key: ApiKey = None) -> None:
    """A model's versions, stages and weights."""
    with client(url, api_key) as http:
        found = call(http, "GET", f"/v1/registry/{quote(model)}")
    table = Table("version", "stage", "weight", "artifact", "created (UTC)", "metadata")
    for v in found["versions"]:
        meta = ",".join(f"{k}={value}" for k, value in sorted(v["metadata"].items()))
        table.add_row(v["version"], v["stage"], f"{v['weight']}%", v["artifact_uri"],
                      _when(v["created_at"]), meta)  # fmt: skip
    out.print(table)
    _print_table(found["routing"])


@registry_app.command("route")
def route(
    model: str,
    entries: Annotated[
        list[str], typer.Argument(help="VERSION=STAGE:WEIGHT, e.g. v2=challenger:10")
    ],
    reason: Reason = "",
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Set stages and weights of the listed versions (champion + challengers sum to 100)."""
    body = {"versions": _entries(entries), "reason": reason}
    with client(url, api_key) as http:
        _print_table(call(http, "PUT", f"/v1/registry/{quote(model)}/routing", json=body))


@registry_app.command("promote")
def promote(
    model: str, version: str, reason: Reason = "", url: Url = None, api_key: ApiKey = None
) -> None:
    """Make VERSION champion at 100%; the old champion stays as a challenger at 0%."""
    with client(url, api_key) as http:
        table = call(http, "POST", f"/v1/registry/{quote(model)}/promote",
                     json={"version": version, "reason": reason})  # fmt: skip
    _print_table(table)


@registry_app.command("history")
def history(
    model: Annotated[str | None, typer.Argument(help="Only this model")] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Deployment events, oldest first."""
    with client(url, api_key) as http:
        found = call(http, "GET", "/v1/deployments", params={"model": model} if model else {})
    table = Table("at (UTC)", "model", "kind", "version", "routing", "by", "reason")
    for d in found["deployments"]:
        detail = d["detail"]
        table.add_row(_when(d["at"]), d["model"], d["kind"], d["version"],
                      detail.get("routing", ""), d["actor"], detail.get("reason", ""))  # fmt: skip
    out.print(table)


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


@registry_app.command("impact")
def impact(
    model: Annotated[str, typer.Argument(help="The model")],
    span: Annotated[str, typer.Option(help="The longest window on each side")] = "30m",
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Each deployment with the model's traffic before and after it: throughput, error
    rate, the slowest serving version's p99 (windows stop at the neighbouring deployments
    that moved traffic)."""
    with client(url, api_key) as http:
        found = call(http, "GET", "/v1/deployments/impact",
                     params={"model": model, "span": span})  # fmt: skip
    table = Table("at (UTC)", "kind", "version", "predictions", "traffic /s", "error rate",
                  "p99 ms", title=f"{model}: before → after")  # fmt: skip
    for row in found["impacts"]:
        d, b, a = row["deployment"], row["before"], row["after"] or {}
        table.add_row(
            _when(d["at"]), d["kind"], d["version"],
            f"{b['predictions']:,} → {a['predictions']:,}" if a else f"{b['predictions']:,} → —",
            f"{_num(b['throughput_per_s'])} → {_num(a.get('throughput_per_s'))}",
            f"{_pct(b['error_rate'])} → {_pct(a.get('error_rate'))}",
            f"{_num(b['worst_p99_ms'])} → {_num(a.get('worst_p99_ms'))}",
        )  # fmt: skip
    out.print(table)


def rollback_command(
    model: str,
    to: Annotated[str | None, typer.Option("--to", help="The version to restore")] = None,
    reason: Reason = "",
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Restore the previous champion (or --to VERSION) at 100%; the failing one is archived."""
    body: dict[str, str] = {"reason": reason}
    if to is not None:
        body["version"] = to
    with client(url, api_key) as http:
        table = call(http, "POST", f"/v1/registry/{quote(model)}/rollback", json=body)
    err.print(f"rolled back {model} to {table['fallback']}")
    _print_table(table)
