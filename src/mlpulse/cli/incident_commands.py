"""``mlpulse incidents``: list, show, acknowledge, resolve, note, post-mortem."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mlpulse.cli.api import ApiKey, Url, call, client, err
from mlpulse.services.postmortem import ONSET_METHODS

incidents_app = typer.Typer(help="Incidents: what critical alerts opened, and their timelines.")
out = Console() if sys.stdout.isatty() else Console(width=240)


def _when(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} s"


@incidents_app.command("list")
def list_incidents(
    model: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option()] = None,
    days: Annotated[float | None, typer.Option(help="Only those opened in the last N days")] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Incidents, newest first, with mean times to detect, acknowledge and recover."""
    params: dict[str, str | float] = {k: v for k, v in (("model", model), ("status", status)) if v}
    if days is not None:
        params["since"] = time.time() - days * 86400.0
    with client(url, api_key) as http:
        found = call(http, "GET", "/v1/incidents", params=params)
    table = Table("id", "title", "status", "opened (UTC)", "detect", "ack", "recover")
    for item in found["incidents"]:
        i, t = item["incident"], item["times"]
        table.add_row(i["id"], i["title"], i["status"], _when(i["opened_at"]),
                      _secs(t["time_to_detect"]), _secs(t["time_to_acknowledge"]),
                      _secs(t["time_to_recover"]))  # fmt: skip
    out.print(table)
    s = found["summary"]
    err.print(f"MTTD {_secs(s['mean_time_to_detect']) or '—'}, "
              f"MTTA {_secs(s['mean_time_to_acknowledge']) or '—'}, "
              f"MTTR {_secs(s['mean_time_to_recover']) or '—'}")  # fmt: skip


@incidents_app.command("show")
def show(incident_id: str, url: Url = None, api_key: ApiKey = None) -> None:
    """An incident and its timeline."""
    with client(url, api_key) as http:
        found = call(http, "GET", f"/v1/incidents/{incident_id}")
    i = found["incident"]
    out.print(f"[bold]{i['title']}[/] — {i['status']} (commander: {i.get('commander') or '—'})")
    method = ONSET_METHODS.get(i.get("onset_method", ""), "")
    out.print(f"onset {_when(i['onset_at'])} UTC{f' ({method})' if method else ''}")
    for entry in i.get("timeline", []):
        out.print(f"{_when(entry['at'])}  {entry['kind']:<10} {entry['text']}", markup=False)
        detail = entry.get("data", {}).get("detail")
        if entry["kind"] == "action" and detail:  # why it failed, was skipped or what it did
            out.print(f"{'':21}{'':11}{detail}", markup=False)


@incidents_app.command("similar")
def similar(incident_id: str, url: Url = None, api_key: ApiKey = None) -> None:
    """Past incidents like this one (same model, shared signals)."""
    with client(url, api_key) as http:
        found = call(http, "GET", f"/v1/incidents/{incident_id}/similar")
    table = Table("id", "title", "model", "opened (UTC)", "status", "score")
    for item in found["similar"]:
        i = item["incident"]
        table.add_row(i["id"], i["title"], i["model"], _when(i["opened_at"]), i["status"],
                      f"{item['score']:.2f}")  # fmt: skip
    out.print(table)


@incidents_app.command("approvals")
def approvals(url: Url = None, api_key: ApiKey = None) -> None:
    """Runbook actions waiting for a person's approval."""
    with client(url, api_key) as http:
        found = call(http, "GET", "/v1/incidents/approvals")
    table = Table("approval", "runbook", "action", "model", "version", "alert",
                  "requested (UTC)", "expires (UTC)")  # fmt: skip
    for a in found["approvals"]:
        table.add_row(a["id"], a["runbook"], a["action"], a["model"], a.get("version", ""),
                      a["alert"], _when(a["requested_at"]), _when(a["expires_at"]))  # fmt: skip
    out.print(table)


@incidents_app.command("approve")
def approve(approval_id: str, url: Url = None, api_key: ApiKey = None) -> None:
    """Approve a waiting runbook action: re-checked (refused when stale), then it runs now."""
    with client(url, api_key) as http:
        outcome = call(http, "POST", f"/v1/incidents/approvals/{approval_id}")
    err.print(f"{outcome['action']}: {outcome['status']} — {outcome['detail']}")


@incidents_app.command("reject")
def reject(
    approval_id: str,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log)")] = "",
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Reject a waiting runbook action: it never runs."""
    with client(url, api_key) as http:
        found = call(http, "POST", f"/v1/incidents/approvals/{approval_id}/reject",
                     json={"reason": reason})  # fmt: skip
    err.print(f"approval {found['id']}: {found['status']}")


@incidents_app.command("ack")
def acknowledge(incident_id: str, url: Url = None, api_key: ApiKey = None) -> None:
    """Acknowledge an incident."""
    with client(url, api_key) as http:
        found = call(http, "POST", f"/v1/incidents/{incident_id}/ack")
    err.print(f"incident {incident_id}: {found['incident']['status']}")


@incidents_app.command("resolve")
def resolve(incident_id: str, url: Url = None, api_key: ApiKey = None) -> None:
    """Resolve an incident."""
    with client(url, api_key) as http:
        call(http, "POST", f"/v1/incidents/{incident_id}/resolve")
    err.print(f"incident {incident_id}: resolved")


@incidents_app.command("note")
def note(incident_id: str, text: str, url: Url = None, api_key: ApiKey = None) -> None:
    """Add a note to an incident's timeline."""
    with client(url, api_key) as http:
        call(http, "POST", f"/v1/incidents/{incident_id}/notes", json={"text": text})
    err.print("noted")


@incidents_app.command("postmortem")
def postmortem(
    incident_id: str,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Markdown file")] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Write a Markdown post-mortem draft (to stdout, or -o FILE)."""
    with client(url, api_key) as http:
        response = http.get(f"/v1/incidents/{incident_id}/postmortem")
    if not response.is_success:
        err.print(f"[red]error:[/] {response.status_code}: {response.text[:300]}")
        raise typer.Exit(1)
    if output is None:
        sys.stdout.write(response.text)
    else:
        output.write_text(response.text, encoding="utf-8")
        err.print(f"wrote {output}")
