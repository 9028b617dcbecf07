"""``mlpulse experiments ...``: create, start, stop experiments and read their results."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mlpulse.cli.api import ApiKey, Url, call, checked, client, err

experiments_app = typer.Typer(help="A/B experiments: create, start, stop, results, report.")
out = Console() if sys.stdout.isatty() else Console(width=240)


def _spec(path: Path) -> Any:
    """The spec in ``path``: YAML (``.yaml``/``.yml``) or JSON."""
    try:
        text = path.read_text()
    except OSError as exc:
        err.print(f"[red]error:[/] cannot read {path}: {exc}")
        raise typer.Exit(2) from exc
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        import json

        return json.loads(text)
    except ValueError as exc:  # yaml.YAMLError and json.JSONDecodeError are ValueErrors
        err.print(f"[red]error:[/] {path} does not parse: {exc}")
        raise typer.Exit(2) from exc


def _num(value: float | None, spec: str = ".4g") -> str:
    return "–" if value is None or not math.isfinite(value) else format(value, spec)


def _interval(pair: list[float | None], pct: bool) -> str:
    low, high = pair
    if low is None or high is None:
        return "–"
    if pct:
        return f"[{low * 100:.2f}%, {high * 100:.2f}%]"
    return f"[{_num(low)}, {_num(high)}]"


@experiments_app.command("create")
def create(
    file: Annotated[Path, typer.Option("-f", "--file", help="The spec, as YAML or JSON")],
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Create an experiment (as a draft) from a spec file."""
    with client(url, api_key) as http:
        created = call(http, "POST", "/v1/experiments", json=_spec(file))
    err.print(f"created {created['name']} ({created['status']}); start it with "
              f"`mlpulse experiments start {created['name']}`")  # fmt: skip


@experiments_app.command("list")
def list_command(url: Url = None, api_key: ApiKey = None) -> None:
    """Every experiment."""
    with client(url, api_key) as http:
        found = call(http, "GET", "/v1/experiments")["experiments"]
    table = Table("name", "model", "status", "method", "variants", "primary", "stop reason")
    for e in found:
        variants = ", ".join(
            f"{v}={e['variants'][v]}:{e['allocation'][v]:g}" for v in e["variants"]
        )
        table.add_row(e["name"], e["model"], e["status"], e["method"], variants,
                      e["primary"]["name"], e["stop_reason"])  # fmt: skip
    out.print(table)


@experiments_app.command("start")
def start(name: str, url: Url = None, api_key: ApiKey = None) -> None:
    """Start a draft experiment."""
    with client(url, api_key) as http:
        found = call(http, "POST", f"/v1/experiments/{name}/start")
    err.print(f"{found['name']} is {found['status']}")


@experiments_app.command("stop")
def stop(
    name: str,
    reason: Annotated[str, typer.Option(help="Why it stops")] = "",
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Stop an experiment: every unit gets the control afterwards."""
    with client(url, api_key) as http:
        found = call(http, "POST", f"/v1/experiments/{name}/stop", json={"reason": reason})
    err.print(f"{found['name']} is {found['status']}: {found['stop_reason']}")


@experiments_app.command("results")
def results(name: str, url: Url = None, api_key: ApiKey = None) -> None:
    """Per metric and variant: estimate, difference, interval, p-value; the verdict."""
    with client(url, api_key) as http:
        found = call(http, "GET", f"/v1/experiments/{name}/results")
    bayesian = found["experiment"]["method"] == "bayesian"
    for metric in found["metrics"]:
        table = Table("variant", "version", "units", "estimate", "difference", "interval",
                      "relative", "relative interval",
                      "chance to beat" if bayesian else "adjusted p", "outcome",
                      title=f"{metric['name']} ({metric['role']})")  # fmt: skip
        for c in metric["variants"]:
            rel = "–" if c["relative"] is None else f"{c['relative'] * 100:+.2f}%"
            stat = c["chance_to_beat"] if bayesian else c["adjusted_p_value"]
            table.add_row(c["variant"], c["version"], str(c["n"]), _num(c["estimate"]),
                          _num(c["difference"]), _interval(c["ci"], False), rel,
                          _interval(c["relative_ci"], True), _num(stat), c["outcome"])  # fmt: skip
        out.print(table)
    srm = found["srm"]
    out.print(f"sample ratio check: {srm['status']} (p = {_num(srm['p_value'])})")
    out.print(found["verdict"])


@experiments_app.command("report")
def report(
    name: str,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the HTML")],
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Write the results as a self-contained HTML page."""
    with client(url, api_key) as http:
        response = http.get(f"/v1/experiments/{name}/report")
        if not response.is_success:
            checked(response)
    output.write_text(response.text)
    err.print(f"wrote {output}")
