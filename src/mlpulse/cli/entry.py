"""The ``mlpulse`` script: the command line, or one line saying which extra it needs
(an SDK-only install has the script but not typer, rich or the server)."""

from __future__ import annotations

from mlpulse.cli.failures import run


def main() -> None:
    def command() -> None:
        from mlpulse.cli.main import app

        app()

    run(command)
