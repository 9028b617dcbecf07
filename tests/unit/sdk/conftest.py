"""A real collector stand-in on 127.0.0.1 for the SDK tests, and a client factory."""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
import pytest

import mlpulse
from mlpulse.domain.blocks import block_rows, blocks_from_rows
from mlpulse.domain.events import Batch, Event, Prediction
from mlpulse.domain.ingest import IngestResult, Rejection

# (status, headers, body) or None for "the default answer".
Answer = tuple[int, dict[str, str], bytes]
Plan = Callable[[Batch], Answer | None]


@dataclass
class Received:
    """One request as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    batch: Batch
    status: int


@dataclass
class Receiver:
    """Decodes every body as the wire ``Batch`` and answers as planned.

    By default it answers like the collector: 200 with the events it accepted and a
    rejection for each invalid one (422 when none is valid). ``plan(...)`` queues
    answers used first, one per request; ``rule`` (if set) answers every request it
    returns an answer for.
    """

    port: int
    requests: list[Received] = field(default_factory=list)
    planned: list[Plan] = field(default_factory=list)
    rule: Plan | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: set[socket.socket] = field(default_factory=set)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- answers ------------------------------------------------------------------

    def plan(self, *answers: Plan) -> None:
        with self.lock:
            self.planned.extend(answers)

    def answer_for(self, batch: Batch, rejected: list[Rejection]) -> Answer:
        with self.lock:
            planned = self.planned.pop(0) if self.planned else None
            rule = self.rule
        for source in (planned, rule):
            if source is not None:
                answer = source(batch)
                if answer is not None:
                    return answer
        return ok(batch, rejected, status=422 if rejected and not rows_of(batch) else 200)

    # -- what arrived ---------------------------------------------------------------

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.status == 200]

    def events(self) -> list[Event]:
        """Every event in a 200-answered request, in arrival order (block rows as rows)."""
        return [event for r in self.accepted() for event in rows_of(r.batch)]

    def predictions(self) -> list[Prediction]:
        return [e for e in self.events() if isinstance(e, Prediction)]

    def wait_for_events(self, count: int, timeout: float = 4.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        while len(self.events()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.events()

    # -- helpers for plans (tests cannot import this conftest module) ----------------

    @staticmethod
    def rows_of(batch: Batch) -> list[Event]:
        return rows_of(batch)

    @staticmethod
    def ok(batch: Batch, rejected: list[Rejection] | None = None, status: int = 200) -> Answer:
        return ok(batch, rejected, status)

    @staticmethod
    def status(code: int, headers: dict[str, str] | None = None) -> Plan:
        return status(code, headers)

    # -- up and down ----------------------------------------------------------------

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Buffered: headers and body leave in one write (no Nagle/delayed-ACK stalls).
            wbufsize = -1

            def setup(self) -> None:
                super().setup()
                with receiver.lock:
                    receiver.connections.add(self.connection)

            def finish(self) -> None:
                super().finish()
                with receiver.lock:
                    receiver.connections.discard(self.connection)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                body = gzip.decompress(raw) if self.headers["Content-Encoding"] == "gzip" else raw
                batch, rejected = decode_like_the_collector(body)
                status, headers, out = receiver.answer_for(batch, rejected)
                with receiver.lock:
                    receiver.requests.append(Received(dict(self.headers), raw, batch, status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        # A client that gave up on a request leaves a broken pipe here: nothing to report.
        server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            # Kept-alive connections too, or the client would still reach a "down" server.
            with self.lock:
                for connection in self.connections:
                    with contextlib.suppress(OSError):
                        connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def decode_like_the_collector(body: bytes) -> tuple[Batch, list[Rejection]]:
    """The valid events of a body, as a wire ``Batch``, and a rejection for each other one.

    As in the collector: a batch that does not validate as a whole is validated event by
    event (block rows one by one), so a bad event costs only itself, and positions count
    the rows first, then the rows of each prediction block.
    """
    try:
        return msgspec.msgpack.decode(body, type=Batch), []
    except msgspec.ValidationError:
        pass
    raw = msgspec.msgpack.decode(body)
    events: list[Event] = []
    rows: list[Prediction] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(raw.get("events", [])):
        try:
            events.append(_as_event(item))
        except msgspec.ValidationError as exc:
            path, reason = _path_and_reason(exc)
            rejected.append(Rejection(index=index, field=f"events[{index}]{path}", reason=reason))
    offset = len(raw.get("events", []))
    for b, block in enumerate(raw.get("predictions", [])):
        for i, row in enumerate(block_rows(block)):
            try:
                event = _as_event(row)
            except msgspec.ValidationError as exc:
                path, reason = _path_and_reason(exc)
                field = f"predictions[{b}]{path}[{i}]"
                rejected.append(Rejection(index=offset + i, field=field, reason=reason))
            else:
                assert isinstance(event, Prediction)
                rows.append(event)
        offset += len(block["request_id"])
    batch = Batch(events=events, predictions=blocks_from_rows(rows), batch_id=raw.get("batch_id"))
    return batch, rejected


def _as_event(plain: Any) -> Event:
    event: Event = msgspec.msgpack.decode(msgspec.msgpack.encode(plain), type=Event)
    return event


def _path_and_reason(exc: msgspec.ValidationError) -> tuple[str, str]:
    reason, _, path = str(exc).rpartition(" - at `$")
    return path.rstrip("`"), reason


def rows_of(batch: Batch) -> list[Event]:
    """Every event of a batch as a row: its rows, then the rows of its prediction blocks."""
    rows = list(batch.events)
    for block in batch.predictions:
        rows.extend(_as_event(row) for row in block_rows(msgspec.to_builtins(block)))
    return rows


def ok(batch: Batch, rejected: list[Rejection] | None = None, status: int = 200) -> Answer:
    """The collector's answer: ``batch`` holds the accepted events; ``rejected`` the others."""
    result = IngestResult(
        batch_id=batch.batch_id or "", accepted=len(rows_of(batch)), rejected=rejected or []
    )
    return status, {"Content-Type": "application/json"}, msgspec.json.encode(result)


def status(code: int, headers: dict[str, str] | None = None) -> Plan:
    """A plan that answers ``code`` with a small JSON body."""
    return lambda batch: (code, headers or {}, b'{"detail": "planned"}')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(port=free_port())
    receiver.up()
    yield receiver
    receiver.down()


# Small intervals and backoff so every test finishes in well under a second or two.
FAST: dict[str, Any] = {"flush_interval": 0.02, "backoff_base": 0.01, "backoff_cap": 0.05}


@pytest.fixture
def make_client() -> Iterator[Callable[..., mlpulse.Client]]:
    clients: list[mlpulse.Client] = []

    def make(url: str, **options: Any) -> mlpulse.Client:
        client = mlpulse.Client(url, "test-key", **(FAST | options))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close(timeout=0.2)
