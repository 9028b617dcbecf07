"""The layers import downward only (STYLE.md), and the SDK stays light."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "mlpulse"

# For each layer: the mlpulse packages it may import.
ALLOWED = {
    "core": {"core", "errors"},
    "domain": {"core", "domain", "errors"},
    "services": {"core", "domain", "ports", "errors", "services"},
    "sdk": {"sdk", "domain", "errors"},
    "ports": {"domain", "errors", "ports"},
    "adapters": {"core", "domain", "ports", "errors", "adapters"},
}
# The one store module the server, the CLI, the demo and the test helpers may import:
# every storage port comes from the backend it opens (MLPULSE_STORE).
STORE_FACTORY = "mlpulse.adapters.store.factory"
# Backup, restore and the crash check, for operators' tools.
STORE_MAINTENANCE = "mlpulse.adapters.store.maintenance"
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b.*\b(FROM|INTO|SET)\b", re.DOTALL)
THIRD_PARTY_BANNED_IN_CORE = {
    "fastapi", "starlette", "uvicorn", "duckdb", "httpx", "pydantic", "typer", "rich",
    "sqlite3", "prometheus_client", "pyarrow",
}  # fmt: skip


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _layer_files(layer: str) -> list[Path]:
    target = SRC / layer
    return sorted(target.rglob("*.py")) if target.is_dir() else [SRC / f"{layer}.py"]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_the_layers_below_it(layer: str) -> None:
    wrong = []
    for path in _layer_files(layer):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "mlpulse" and len(parts) > 1 and parts[1] not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(SRC)} imports {name}")
    assert not wrong


@pytest.mark.parametrize("layer", ["server", "cli", "demo", "testing"])
def test_layer_reaches_storage_only_through_the_backend_factory(layer: str) -> None:
    wrong = [
        f"{path.relative_to(SRC)} imports {name}"
        for path in _layer_files(layer)
        for name in _imports(path)
        if name.startswith("mlpulse.adapters.store")
        and name not in (STORE_FACTORY, STORE_MAINTENANCE)
    ]
    assert not wrong


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal, an f-string as its literal parts joined."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
            found.append((node.lineno, " ".join(str(p) for p in parts)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
    return found


def test_server_holds_no_sql() -> None:
    wrong = [
        f"{path.relative_to(SRC)}:{line}"
        for path in _layer_files("server")
        for line, text in _strings(path)
        if SQL.search(text)
    ]
    assert not wrong


def test_core_and_domain_import_no_framework() -> None:
    wrong = [
        f"{path.relative_to(SRC)} imports {name}"
        for layer in ("core", "domain")
        for path in _layer_files(layer)
        for name in _imports(path)
        if name.split(".")[0] in THIRD_PARTY_BANNED_IN_CORE
    ]
    assert not wrong


def test_importing_the_sdk_loads_no_server_dependency() -> None:
    code = (
        "import sys, mlpulse; mlpulse.Client;"
        "heavy = {'fastapi','starlette','uvicorn','duckdb','pyarrow','numpy','typer','rich',"
        "'prometheus_client'} & {m.split('.')[0] for m in sys.modules};"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_embedded_collector_imports_no_database_driver() -> None:
    # The PostgreSQL driver is an extra (`mlpulse[postgres]`): a collector on the embedded
    # store must start without it (a wheel install without the extra found this).
    code = (
        "import sys; from mlpulse.server.app import create_app; "
        "import mlpulse.adapters.store.embedded; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'psycopg_pool')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
