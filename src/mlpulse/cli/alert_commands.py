"""``mlpulse alerts``, ``mlpulse silences`` and ``mlpulse outbox``: alerting from a shell."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mlpulse.cli.api import ApiKey, Url, call, client, err

alerts_app = typer.Typer(help="List, acknowledge and resolve alerts.")
silences_app = typer.Typer(help="Mute alerts by label for a while.")
# Piped (to grep, a log, a CI step) tables keep whole values rather than fit 80 columns.
out = Console() if sys.stdout.isatty() else Console(width=240)


def _when(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname",))


@alerts_app.command("list")
def list_alerts(
    state: Annotated[str | None, typer.Option(help="pending, firing or resolved")] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Alerts, firing first."""
    with client(url, api_key) as http:
        found = call(http, "GET", "/v1/alerts", params={"state": state} if state else {})
    table = Table("fingerprint", "alert", "state", "severity", "labels", "since (UTC)", "ack")
    for alert in found["alerts"]:
        table.add_row(
            alert["fingerprint"], alert["rule"], alert["state"], alert["severity"],
            _labels(alert["labels"]), _when(alert.get("starts_at") or alert["active_since"]),
            alert.get("acknowledged_by") or "",
        )  # fmt: skip
    out.print(table)


@alerts_app.command("ack")
def acknowledge(fingerprint: str, url: Url = None, api_key: ApiKey = None) -> None:
    """Acknowledge an alert: escalation stops."""
    with client(url, api_key) as http:
        alert = call(http, "POST", f"/v1/alerts/{fingerprint}/ack")
    err.print(
        f"acknowledged {alert['rule']} ({_labels(alert['labels'])}) as {alert['acknowledged_by']}"
    )


@alerts_app.command("resolve")
def resolve(fingerprint: str, url: Url = None, api_key: ApiKey = None) -> None:
    """Resolve an alert by hand (it fires again while its condition holds)."""
    with client(url, api_key) as http:
        alert = call(http, "POST", f"/v1/alerts/{fingerprint}/resolve")
    err.print(f"resolved {alert['rule']} ({_labels(alert['labels'])})")


@silences_app.command("add")
def add_silence(
    match: Annotated[list[str], typer.Option(help="label=value (repeat for several)")],
    comment: Annotated[str, typer.Option(help="Why")],
    duration: Annotated[str, typer.Option(help="How long: 30m, 2h, 1d")] = "2h",
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Silence the alerts matching every --match for --duration."""
    matchers = {}
    for item in match:
        key, sep, value = item.partition("=")
        if not sep or not key:
            err.print(f"[red]error:[/] --match must look like label=value; got {item!r}")
            raise typer.Exit(2)
        matchers[key] = value
    with client(url, api_key) as http:
        body = {"matchers": matchers, "duration": duration, "comment": comment}
        silence = call(http, "POST", "/v1/silences", json=body)
    err.print(f"silence {silence['id']} until {_when(silence['ends_at'])} UTC")


@silences_app.command("list")
def list_silences(url: Url = None, api_key: ApiKey = None) -> None:
    """Silences, active and expired."""
    with client(url, api_key) as http:
        found = call(http, "GET", "/v1/silences")
    table = Table("id", "matchers", "from (UTC)", "until (UTC)", "by", "comment")
    for s in found["silences"]:
        table.add_row(s["id"], _labels(s["matchers"]), _when(s["starts_at"]), _when(s["ends_at"]),
                      s["created_by"], s["comment"])  # fmt: skip
    out.print(table)


@silences_app.command("expire")
def expire_silence(silence_id: str, url: Url = None, api_key: ApiKey = None) -> None:
    """End a silence now."""
    with client(url, api_key) as http:
        call(http, "DELETE", f"/v1/silences/{silence_id}")
    err.print(f"silence {silence_id} expired")


def outbox_command(
    status: Annotated[
        str | None, typer.Option(help="pending, delivered, dead (the dead letters), superseded")
    ] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Notifications in the outbox (--status dead: the dead letters)."""
    with client(url, api_key) as http:
        found = call(http, "GET", "/v1/outbox", params={"status": status} if status else {})
    table = Table("id", "receiver", "status", "attempts", "created (UTC)", "title", "last error")
    for e in found["entries"]:
        n = e["notification"]
        table.add_row(e["id"][:12], n["receiver"], e["status"], str(e["attempts"]),
                      _when(e["created_at"]), n["title"], e.get("last_error", ""))  # fmt: skip
    out.print(table)
