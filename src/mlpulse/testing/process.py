"""A collector in a child process on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

from mlpulse.adapters.store.factory import open_metadata
from mlpulse.domain.auth import Scope
from mlpulse.server.settings import Settings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_key(
    data_dir: Path, scopes: Sequence[Scope], *, name: str = "test", store: str = ""
) -> str:
    """A key written straight into the metadata store (works beside a running collector);
    ``store``: a ``postgresql://`` URL instead of the data directory's database."""
    with open_metadata(Settings(data_dir=data_dir, store=store)) as metadata:
        return metadata.create_key(scopes, name=name, now=time.time())[1]


class CollectorProcess:
    """``mlpulse serve`` in a child process; a context manager that stops it on exit."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {**os.environ, **(env or {})}
        self._log_path = log_path or data_dir / f"collector-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 30.0) -> CollectorProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self._log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "mlpulse", "serve", "--data-dir", str(self.data_dir),
             "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self._env,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"collector exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"collector not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush, no checkpoint."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)

    def stop(self, *, timeout: float = 20.0) -> None:
        """SIGTERM and wait: a graceful shutdown."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> CollectorProcess:
        return self.start() if self._process is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
