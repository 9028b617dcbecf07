"""``mlpulse serve`` that cannot start says why in one line (``error: <cause>``, with a
hint) and exits 1 (2 for a bad flag); ``mlpulse --debug serve`` adds the traceback.
Each case runs the real command in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mlpulse.testing.process import free_port

# The `mlpulse` script's entry point, with some modules made unimportable first.
_ENTRY = (
    "import sys\n"
    "for name in sys.argv[1].split(','):\n"
    "    if name: sys.modules[name] = None\n"
    "sys.argv = ['mlpulse', *sys.argv[2:]]\n"
    "from mlpulse.cli.entry import main\n"
    "main()\n"
)


def mlpulse(
    *args: str, blocked: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _ENTRY, blocked, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one ``error:`` line of a failed run (and there is no traceback)."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert output.rstrip().endswith(errors[0]), output  # the useful line comes last
    return errors[0]


def test_serve_with_a_port_out_of_range_names_the_flag(tmp_path: Path) -> None:
    result = mlpulse("serve", "--port", "99999", "--data-dir", str(tmp_path))

    assert result.returncode == 2
    line = error_line(result)
    assert "--port" in line and "99999" in line and "MLPULSE_PORT" not in line


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = mlpulse("serve", "--port", str(port), "--data-dir", str(tmp_path))

    assert result.returncode == 1
    line = error_line(result)
    assert f"127.0.0.1:{port}" in line and "in use" in line and "--port" in line


def test_serve_on_an_unreadable_metadata_database_says_so_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "metadata.sqlite").write_bytes(b"not a database" * 100)

    result = mlpulse("serve", "--port", str(free_port()), "--data-dir", str(tmp_path))

    assert result.returncode == 1
    assert "metadata.sqlite" in error_line(result)


@pytest.mark.parametrize(
    ("store", "said"),
    [("mysql://db/x", "MLPULSE_STORE"), ("postgresql://127.0.0.1:1/none", "127.0.0.1")],
)
def test_serve_with_a_bad_store_url_says_so_in_one_line(
    tmp_path: Path, store: str, said: str
) -> None:
    result = mlpulse(
        "serve", "--port", str(free_port()), "--data-dir", str(tmp_path),
        env={"MLPULSE_STORE": store},
    )  # fmt: skip

    assert result.returncode == 1
    assert said in error_line(result)


def test_serve_failing_in_the_apps_start_up_prints_the_cause_not_the_traceback(
    tmp_path: Path,
) -> None:
    # A first start makes the store; then the event database is spoilt.
    made = mlpulse("migrate", "--data-dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    (tmp_path / "events.duckdb").write_bytes(b"not a database" * 1000)
    args = ("serve", "--port", str(free_port()), "--data-dir", str(tmp_path))

    result = mlpulse(*args)

    assert result.returncode == 1
    line = error_line(result)
    assert "events.duckdb" in line and "--debug" in line
    debug = mlpulse("--debug", *args)
    assert debug.returncode == 1
    assert "Traceback" in debug.stdout + debug.stderr


@pytest.mark.parametrize(
    ("blocked", "store", "extra"),
    [
        ("uvicorn", "", "server"),
        ("typer", "", "server"),
        ("psycopg,psycopg_pool", "postgresql://127.0.0.1:5432/test", "postgres"),
    ],
)
def test_serve_without_an_extra_names_the_install_line(
    tmp_path: Path, blocked: str, store: str, extra: str
) -> None:
    env = {"MLPULSE_STORE": store} if store else {}
    result = mlpulse(
        "serve", "--port", str(free_port()), "--data-dir", str(tmp_path),
        blocked=blocked, env=env,
    )  # fmt: skip

    assert result.returncode == 1
    assert f"pip install 'mlpulse[{extra}]'" in error_line(result)
