"""``mlpulse bandits ...``: start, list, show and stop bandits over a model's versions."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mlpulse.cli.api import ApiKey, Url, call, client, err

bandits_app = typer.Typer(
    help="Bandits: traffic weights over a model's versions that follow rewards."
)
out = Console() if sys.stdout.isatty() else Console(width=240)


def _when(ts: float | None) -> str:
    return "–" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def _weights(bandit: dict[str, Any]) -> str:
    return ", ".join(f"{v} {w}%" for v, w in bandit["weights"].items())


@bandits_app.command("start")
def start(
    model: str,
    versions: Annotated[list[str], typer.Argument(help="The versions to allocate over (2+)")],
    reward: Annotated[str, typer.Option(help="The outcome to maximise (click, purchase, ...)")],
    kind: Annotated[
        str, typer.Option(help="proportion (share of units with one) or mean (per unit)")
    ] = "proportion",
    policy: Annotated[str, typer.Option(help="thompson, ucb1 or epsilon_greedy")] = "thompson",
    floor: Annotated[float, typer.Option(help="Least share of traffic per version")] = 0.05,
    every: Annotated[str, typer.Option(help="How often to re-allocate (30s, 5m, 1h)")] = "5m",
    exposure: Annotated[
        str, typer.Option(help="The outcome the SDK router logs when it serves a unit")
    ] = "exposure",
    seed: Annotated[int | None, typer.Option(help="Seed of Thompson's draws")] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Start a bandit: its first allocation routes MODEL's traffic over VERSIONS."""
    body: dict[str, Any] = {
        "model": model, "versions": versions, "reward": {"name": reward, "kind": kind},
        "policy": policy, "floor": floor, "every": every, "exposure": exposure,
    }  # fmt: skip
    if seed is not None:
        body["seed"] = seed
    with client(url, api_key) as http:
        started = call(http, "POST", "/v1/bandits", json=body)
    err.print(f"started bandit {started['id']} on {model}: {_weights(started)} "
              f"(champion {started['champion']})")  # fmt: skip


@bandits_app.command("list")
def list_command(url: Url = None, api_key: ApiKey = None) -> None:
    """Every bandit, oldest first."""
    with client(url, api_key) as http:
        found = call(http, "GET", "/v1/bandits")["bandits"]
    table = Table("id", "model", "status", "policy", "reward", "weights", "champion", "last tick")
    for b in found:
        reward = f"{b['reward']['name']} ({b['reward']['kind']})"
        table.add_row(b["id"], b["model"], b["status"], b["policy"], reward, _weights(b),
                      b["champion"], _when(b["ticked_at"]))  # fmt: skip
    out.print(table)


@bandits_app.command("show")
def show(bandit_id: str, url: Url = None, api_key: ApiKey = None) -> None:
    """A bandit's versions (units, mean reward, policy share, weight) and its history."""
    with client(url, api_key) as http:
        b = call(http, "GET", f"/v1/bandits/{bandit_id}")
    reward = b["reward"]
    err.print(f"bandit {b['id']} on {b['model']}: {b['status']}, {b['policy']} on "
              f"{reward['name']} ({reward['kind']}), floor {b['floor']:g}, every {b['every']}"
              + (f"; {b['stop_reason']}" if b["stop_reason"] else ""))  # fmt: skip
    arms = Table("version", "stage", "units", "total", "mean", "policy share", "weight")
    for a in b["arms"]:
        stage = "champion" if a["version"] == b["champion"] else "challenger"
        mean = "–" if a["mean"] is None else f"{a['mean']:.4g}"
        arms.add_row(a["version"], stage, str(a["units"]), f"{a['total']:g}", mean,
                     f"{a['probability']:.3f}", f"{a['weight']}%")  # fmt: skip
    out.print(arms)
    history = Table("at (UTC)", "weights", "champion", "units", "ticks")
    for h in b["history"]:
        weights = ", ".join(f"{v} {w}%" for v, w in h["weights"].items())
        history.add_row(_when(h["at"]), weights, h["champion"], str(h["units"]), str(h["ticks"]))
    out.print(history)


@bandits_app.command("stop")
def stop(
    bandit_id: str,
    reason: Annotated[str, typer.Option(help="Why (kept on the bandit)")] = "",
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Stop re-allocating; the routing table keeps the last weights."""
    with client(url, api_key) as http:
        b = call(http, "POST", f"/v1/bandits/{bandit_id}/stop", json={"reason": reason})
    err.print(f"bandit {b['id']} {b['status']}: {b['model']} stays at {_weights(b)} "
              f"(champion {b['champion']}); `mlpulse registry promote {b['model']} "
              f"{b['champion']}` gives the champion all traffic")  # fmt: skip
