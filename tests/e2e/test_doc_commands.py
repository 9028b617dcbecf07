"""Every shell command of README.md and docs/*.md runs, or is marked as illustrative.

A ```sh, ```bash, ```shell or ```console block is run command by command, in ``bash``,
unless the line just above it is ``<!-- illustrative: <why> -->`` (a command that installs
system-wide, needs another service, or runs for minutes; the reason says which test runs
it instead, if any). Each document is one shell session in one fresh folder: ``export``s
carry over from block to block, and so do the files its commands write.

Where the commands run:

- Against a collector this module starts (``MLPULSE_URL``, ``MLPULSE_API_KEY`` set to an
  admin key, ``$ADMIN_KEY`` and ``$READ_KEY`` too), with a model ``fraud`` that has
  traffic, a model ``recs`` whose champion was replaced once (so a rollback has somewhere
  to go), a firing critical alert and the incident it opened.
- A block with an ``mlpulse serve`` starts that collector instead, on a free port, in
  the background (its ``&``, or the other shell a reader would use), waits until it is
  ready, and stops it when the block ends (Ctrl-C).
- Loopback only: ``:8080`` becomes the port of the block's collector; ``/var/lib/…``
  and ``/backup/…`` become folders of the session's own folder.
- Placeholders (``<admin key>``, ``<fingerprint>``, ``<id>``, ``<key id>`` …) become real
  values: a key the document printed before, else this module's; the alert and incident
  above. An unknown placeholder fails the test: add it to :func:`placeholder_value` or
  write the command another way.
- The files a command reads: ``quickstart.py`` and ``mlpulse.yaml`` are the README's
  Quickstart blocks, ``ab.yaml`` the spec in docs/experiments.md, ``train.parquet`` and
  ``today.csv`` made here (a user's own data), ``docs/examples/mlpulse.yaml`` the file of
  the repository (with its reference file), ``backup/mlpulse-2026-12-07.tar.gz`` a backup
  of this module's collector.

A command passes when it exits 0.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import mlpulse
from mlpulse.testing.process import free_port
from tests.conftest import RunningCollector, start_collector

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELLS = ("sh", "bash", "shell", "console")
_OPEN = re.compile(r"^```(\w*)\s*$")
_MARK = re.compile(r"^<!--\s*illustrative:\s*(\S.*?)\s*-->\s*$")
_PLACEHOLDER = re.compile(r"<[A-Za-z][A-Za-z ]*>")
_SERVE = re.compile(r"^mlpulse serve\b")
_KEY = re.compile(r"\bmlp_([0-9a-f]+)_[A-Za-z0-9_\-]+")
BIN = Path(sys.executable).parent  # python, pip and mlpulse of this environment
RESTORE_FILE = "backup/mlpulse-2026-12-07.tar.gz"


@dataclass(frozen=True)
class ShellBlock:
    document: Path
    line: int  # of the opening fence
    commands: tuple[str, ...]
    illustrative: str | None  # the reason, when marked

    @property
    def where(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def commands_of(lines: list[str], *, console: bool) -> tuple[str, ...]:
    """The commands of a block: continued lines joined; comments, output and blanks out.

    In a ```console block only ``$ `` lines are commands (the rest is output)."""
    commands: list[str] = []
    pending = ""
    for raw in lines:
        line = raw.rstrip()
        if not pending:
            if console:
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            if not line.strip() or line.lstrip().startswith("#"):
                continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        commands.append((pending + line).strip())
        pending = ""
    if pending:
        commands.append(pending.strip())
    return tuple(commands)


def shell_blocks(path: Path) -> list[ShellBlock]:
    blocks: list[ShellBlock] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opened = _OPEN.match(lines[index])
        if opened is None:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        language = opened.group(1)
        if language in SHELLS:
            above = next((line for line in reversed(lines[:index]) if line.strip()), "")
            marked = _MARK.match(above)
            commands = commands_of(lines[index + 1 : end], console=language == "console")
            reason = marked.group(1) if marked else None
            blocks.append(ShellBlock(path, index + 1, commands, reason))
        index = end + 1
    return blocks


def fenced_block(path: Path, *, language: str, containing: str) -> str:
    """The one ```language block of ``path`` with ``containing`` in it."""
    text = path.read_text(encoding="utf-8")
    found = re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    (block,) = [b for b in found if containing in b]
    return str(block)


# ---------------------------------------------------------------------------------------
# The collector the commands talk to, and the files they read


@dataclass(frozen=True)
class World:
    collector: RunningCollector
    fingerprint: str  # a firing critical alert
    incident: str  # the incident it opened
    backup: Path  # a backup of the collector, for `mlpulse restore`


def _mlpulse(collector: RunningCollector, *args: str) -> None:
    env = {**os.environ, "MLPULSE_URL": collector.url, "MLPULSE_API_KEY": collector.admin_key}
    done = subprocess.run([sys.executable, "-m", "mlpulse", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, f"mlpulse {' '.join(args)}: {done.stderr}"


def _quickstart_yaml() -> str:
    return fenced_block(ROOT / "README.md", language="yaml", containing="models:\n  fraud:")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("doc-collector")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPULSE_")}
    process, keys = start_collector(folder / "data", **env)
    collector = RunningCollector(process, keys["admin"], keys["ingest"], keys["read"])
    admin = collector.headers(collector.admin_key)
    try:
        (folder / "mlpulse.yaml").write_text(_quickstart_yaml(), encoding="utf-8")
        _mlpulse(collector, "apply", "-f", str(folder / "mlpulse.yaml"))
        # Traffic of fraud v1, through the SDK.
        client = mlpulse.Client(collector.url, collector.ingest_key)
        for i in range(200):
            client.log_prediction("fraud", "v1", {"amount": 10.0 + i, "country": "DE"},
                                  i % 7 == 0, score=(i % 7) / 7, latency_ms=12.0)  # fmt: skip
        client.close()
        # recs: v1 was champion, v1b replaced it.
        collector.register("recs", ["v1", "v1b"], champion="v1b")
        # A critical alert from Prometheus' Alertmanager opens an incident at once.
        intake = httpx.post(f"{collector.url}/v1/keys", json={"scopes": ["alertmanager"]},
                            headers=admin).json()["token"]  # fmt: skip
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        alert = {"status": "firing", "startsAt": now,
                 "labels": {"alertname": "ModelDown", "model": "fraud", "version": "v1",
                            "severity": "critical"}}  # fmt: skip
        sent = httpx.post(f"{collector.url}/v1/alertmanager/webhook",
                          json={"version": "4", "status": "firing", "alerts": [alert]},
                          headers=collector.headers(intake))  # fmt: skip
        assert sent.status_code == 200, sent.text
        deadline = time.monotonic() + 30
        while True:
            incidents = httpx.get(f"{collector.url}/v1/incidents", headers=admin).json()
            alerts = httpx.get(f"{collector.url}/v1/alerts", headers=admin).json()["alerts"]
            if incidents["incidents"] and alerts:
                break
            assert time.monotonic() < deadline, "no incident 30 s after a critical alert"
            time.sleep(0.2)
        backup = httpx.post(f"{collector.url}/v1/admin/backup", headers=admin, timeout=120)
        assert backup.status_code == 200, backup.text
        (folder / "backup.tar.gz").write_bytes(backup.content)
        yield World(
            collector,
            fingerprint=str(alerts[0]["fingerprint"]),
            incident=str(incidents["incidents"][0]["incident"]["id"]),
            backup=folder / "backup.tar.gz",
        )
    finally:
        process.stop()


def _user_data(folder: Path) -> None:
    """A model's training data and today's traffic, as a user has them."""
    rng = np.random.default_rng(7)
    n = 500
    columns = {
        "amount": rng.lognormal(3.0, 0.5, n).round(2).tolist(),
        "country": rng.choice(["DE", "FR", "BR"], n).tolist(),
        "score": rng.uniform(0, 1, n).round(4).tolist(),
        "is_fraud": rng.integers(0, 2, n).tolist(),
    }
    pq.write_table(pa.table(columns), folder / "train.parquet")
    rows = zip(*columns.values(), strict=True)
    lines = [",".join(columns), *(",".join(str(value) for value in row) for row in rows)]
    (folder / "today.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def session_folder(tmp_path: Path, world: World) -> Path:
    folder = tmp_path / "session"
    folder.mkdir()
    (folder / "quickstart.py").write_text(
        fenced_block(ROOT / "README.md", language="python", containing="Client.from_env()"),
        encoding="utf-8",
    )
    (folder / "mlpulse.yaml").write_text(_quickstart_yaml(), encoding="utf-8")
    (folder / "ab.yaml").write_text(
        fenced_block(ROOT / "docs" / "experiments.md", language="yaml", containing="ranker-ab"),
        encoding="utf-8",
    )
    _user_data(folder)
    # docs/examples/mlpulse.yaml, with the reference file it names.
    example = ROOT / "docs" / "examples" / "mlpulse.yaml"
    (folder / "docs" / "examples").mkdir(parents=True)
    shutil.copy(example, folder / "docs" / "examples" / "mlpulse.yaml")
    for model in (yaml.safe_load(example.read_text(encoding="utf-8"))["models"]).values():
        reference = (model or {}).get("reference") or {}
        if isinstance(reference.get("file"), str):
            target = folder / "docs" / "examples" / reference["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(folder / "train.parquet", target)
    (folder / "backup").mkdir()
    shutil.copy(world.backup, folder / RESTORE_FILE)
    return folder


# ---------------------------------------------------------------------------------------
# A document as a shell session


@dataclass
class Session:
    world: World
    folder: Path
    env: dict[str, str]
    keys: list[str] = field(default_factory=list)  # printed by the document's commands
    port: int = 0  # of the current block's collector
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def placeholder_value(self, name: str) -> str | None:
        collector = self.world.collector
        key_made_here = self.keys[-1] if self.keys else None
        made = _KEY.search(key_made_here or "")
        values = {
            "<admin key>": key_made_here or collector.admin_key,
            "<the admin key>": key_made_here or collector.admin_key,
            "<a read or admin key>": key_made_here or collector.read_key,
            "<the ingest key>": key_made_here or collector.ingest_key,
            "<fingerprint>": self.world.fingerprint,
            "<id>": self.world.incident,
            "<key id>": made.group(1) if made else None,
        }
        return values.get(name)

    def localise(self, command: str) -> str:
        command = command.replace(":8080", f":{self.port}")
        command = command.replace("--port 8080", f"--port {self.port}")
        command = command.replace("/var/lib/mlpulse", f"{self.folder}/var/lib/mlpulse")
        command = command.replace("/backup/", f"{self.folder}/backup/")
        for name in _PLACEHOLDER.findall(command):
            value = self.placeholder_value(name)
            if value is None:
                pytest.fail(f"no value for the placeholder {name} in: {command}", pytrace=False)
            command = command.replace(name, value)
        return command

    def run_block(self, block: ShellBlock) -> None:
        serves = any(_SERVE.match(command) for command in block.commands)
        self.port = free_port() if serves else self.world.collector.process.port
        try:
            for command in block.commands:
                self.run(block, command)
        finally:
            self.stop_servers()

    def run(self, block: ShellBlock, command: str) -> None:
        local = self.localise(command)
        if _SERVE.match(command):
            self.serve(block, local)
            return
        env_file = self.folder / ".env-after"
        script = f"{local}\nstatus=$?\nenv -0 > {env_file}\nexit $status\n"
        done = subprocess.run(["bash", "-c", script], cwd=self.folder, env=self.env,
                              capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
        assert done.returncode == 0, (
            f"{block.where}: `{command}` exited {done.returncode}\n"
            f"ran: {local}\nstdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-2000:]}"
        )
        self.keys += [m.group(0) for m in _KEY.finditer(done.stdout)]
        pairs = (item.split("=", 1) for item in env_file.read_text().split("\0") if "=" in item)
        self.env = {name: value for name, value in pairs}
        self.env.pop("_", None)

    def serve(self, block: ShellBlock, command: str) -> None:
        """``mlpulse serve`` as a reader runs it: in the background (or another shell)."""
        command = re.sub(r"\s*&?\s*(#.*)?$", "", command)
        log = (self.folder / f"serve-{self.port}.log").open("wb")
        server = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=self.folder,
                                  env={**self.env, "MLPULSE_PORT": str(self.port)},
                                  stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        log.close()
        self.servers.append(server)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).is_success:
                    return
            except httpx.TransportError:
                pass
            logged = (self.folder / f"serve-{self.port}.log").read_text(errors="replace")
            assert server.poll() is None, f"{block.where}: `{command}` exited:\n{logged}"
            assert time.monotonic() < deadline, f"{block.where}: `{command}` not ready:\n{logged}"
            time.sleep(0.2)

    def stop_servers(self) -> None:
        for server in self.servers:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        self.servers.clear()


def _session_env(world: World) -> dict[str, str]:
    collector = world.collector
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPULSE_")}
    return {
        **env,
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "MLPULSE_URL": collector.url,
        "MLPULSE_API_KEY": collector.admin_key,
        "ADMIN_KEY": collector.admin_key,
        "READ_KEY": collector.read_key,
    }


# ---------------------------------------------------------------------------------------
# The tests


BLOCKS = {path: shell_blocks(path) for path in DOCUMENTS}
RUNNABLE = [path for path, blocks in BLOCKS.items() if any(not b.illustrative for b in blocks)]


def test_commands_of_joins_continued_lines_and_drops_comments_and_output() -> None:
    lines = ["# a comment", "", "curl -s x \\", "  -d '{}'", '# {"out": 1}', "mlpulse a  # b"]
    assert commands_of(lines, console=False) == ("curl -s x   -d '{}'", "mlpulse a  # b")
    assert commands_of(["$ mlpulse a", "printed", "$ mlpulse b"], console=True) == (
        "mlpulse a",
        "mlpulse b",
    )


def test_shell_blocks_reads_the_illustrative_mark_above_a_block(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "Text.\n\n<!-- illustrative: installs system-wide -->\n```sh\nsudo x\n```\n\n"
        "```bash\nmlpulse y\n```\n```python\nprint()\n```\n",
        encoding="utf-8",
    )
    blocks = [(b.line, b.commands, b.illustrative) for b in shell_blocks(doc)]
    assert blocks == [(4, ("sudo x",), "installs system-wide"), (8, ("mlpulse y",), None)]


def test_the_documents_have_shell_commands_and_most_run() -> None:
    blocks = [block for found in BLOCKS.values() for block in found]
    run = [block for block in blocks if not block.illustrative]
    assert len(blocks) >= 15 and len(run) >= len(blocks) // 2, [b.where for b in blocks]
    assert all(block.commands for block in blocks), "a shell block without a command"


@pytest.mark.parametrize("path", RUNNABLE, ids=[str(p.relative_to(ROOT)) for p in RUNNABLE])
def test_every_shell_command_of_the_document_runs(path: Path, world: World, tmp_path: Path) -> None:
    session = Session(world, session_folder(tmp_path, world), _session_env(world))
    for block in BLOCKS[path]:
        if block.illustrative is None:
            session.run_block(block)
