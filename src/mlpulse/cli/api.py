"""The collector's HTTP API for CLI commands: URL and key from options or the environment."""

from __future__ import annotations

import os
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

err = Console(stderr=True, soft_wrap=True)  # messages stay one line: grep-able in logs

Url = Annotated[
    str | None, typer.Option("--url", help="Collector URL [env MLPULSE_URL, http://127.0.0.1:8080]")
]
ApiKey = Annotated[str | None, typer.Option("--api-key", help="API key [env MLPULSE_API_KEY]")]


def client(url: str | None, api_key: str | None) -> httpx.Client:
    """An HTTP client for the collector; exits with a clear message when no key is set."""
    # MLPULSE_URL may list several collectors for the SDK (a,b): the CLI uses the first.
    base = (url or os.environ.get("MLPULSE_URL") or "http://127.0.0.1:8080").split(",")[0].strip()
    key = api_key or os.environ.get("MLPULSE_API_KEY")
    if not key:
        err.print("[red]error:[/] no API key: pass --api-key or set MLPULSE_API_KEY")
        raise typer.Exit(2)
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60.0)


def checked(response: httpx.Response) -> Any:
    """The JSON of a successful response; else the server's error message and exit 1."""
    if response.is_success:
        return response.json()
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:500]
    err.print(f"[red]error:[/] {response.request.method} {response.request.url.path}: "
              f"{response.status_code}: {message}")  # fmt: skip
    raise typer.Exit(1)


def call(http: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        return checked(http.request(method, path, **kwargs))
    except httpx.TransportError as exc:
        err.print(f"[red]error:[/] cannot reach the collector at {http.base_url}: {exc}")
        raise typer.Exit(1) from exc
