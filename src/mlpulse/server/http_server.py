"""uvicorn's server, taught to let routing long-polls go as soon as it is asked to stop.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections, then waits up to its graceful
timeout for in-flight requests before it runs the app's shutdown. An SDK router's
long-poll of the routing table (``GET /v1/routing/{model}?wait=25``) is in flight for up
to 25 s and is woken only by :meth:`~mlpulse.services.registry.Registry.close`, which the
app's shutdown calls: without help, every stop of a collector that routers follow would
wait the whole graceful timeout and then cancel the poll with a 500. Waking the waiters
when the exit is asked answers each poll at once with the current table, and the stop
takes a fraction of a second.
"""

from __future__ import annotations

import threading
from types import FrameType

import uvicorn
from fastapi import FastAPI


class CollectorServer(uvicorn.Server):
    """``CollectorServer(uvicorn.Config(app, ...), app).run()``."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self.release_waiters()

    def release_waiters(self) -> None:
        """Answer every held routing long-poll now (from a thread: this runs in a signal
        handler, which must not wait for a lock a waiter's thread may hold)."""
        registry = getattr(self._app.state, "registry", None)
        if registry is not None:
            threading.Thread(target=registry.close, name="mlpulse-release-waiters").start()
