"""The collector served by uvicorn in a background thread of this process."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from mlpulse.ports import Clock
from mlpulse.server.app import create_app
from mlpulse.server.http_server import CollectorServer
from mlpulse.server.settings import Settings


class CollectorThread:
    """``with CollectorThread(settings) as url:`` serves the collector until the block ends."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        if settings.port == 0:
            with socket.socket() as sock:
                sock.bind((settings.host, 0))
                port = int(sock.getsockname()[1])
        else:
            port = settings.port
        self.url = f"http://{settings.host}:{port}"
        self.app = create_app(settings, clock=clock)
        config = uvicorn.Config(self.app, host=settings.host, port=port, log_level="warning")
        self._server = CollectorServer(config, self.app)
        self._thread = threading.Thread(target=self._server.run, name="mlpulse-collector")

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the collector did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._server.release_waiters()
        self._thread.join(30)
