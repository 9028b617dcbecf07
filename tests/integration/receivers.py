"""Local receivers for integration tests: a recording HTTP server and an SMTP server.

Both listen on 127.0.0.1 on a free port, record what they receive and answer from a
script, so a test can check a notifier's real payload and its handling of 429s, 5xxs
and slow or refused connections::

    with HttpReceiver() as receiver:
        receiver.script(Reply(429, headers={"Retry-After": "7"}), Reply(202))
        ...  # point the client at receiver.url
        assert receiver.requests[0].json()["event_action"] == "trigger"
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """One scripted answer: status, body (bytes, str or a JSON-able dict), headers,
    and a delay before answering (to provoke client timeouts)."""

    status: int = 200
    body: bytes | str | dict[str, Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, dict):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return self.body, "text/plain"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler still sleeping (timeout tests) must not block stop

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client hung up (timeout tests): nothing to report


class HttpReceiver:
    """A threaded ``http.server`` on 127.0.0.1 recording every request.

    Answers come from :meth:`script` in order, then ``default`` for the rest.
    """

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply(200, "ok")
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                recorded = RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
                reply = receiver._record(recorded)
                if reply.delay:
                    time.sleep(reply.delay)
                content, content_type = reply.encoded()
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": content_type, **reply.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = _Server(("127.0.0.1", free_port()), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _record(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self._replies.popleft() if self._replies else self.default

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def start(self) -> HttpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class RecordedMail:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: str | None


class SmtpReceiver:
    """An ``aiosmtpd`` server on 127.0.0.1 recording every message.

    ``rcpt_reply`` / ``data_reply`` (e.g. "550 5.1.1 no such user") make it refuse;
    ``credentials`` (user, password) make it offer AUTH (without TLS: tests only).
    """

    def __init__(
        self,
        *,
        rcpt_reply: str | None = None,
        data_reply: str | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.messages: list[RecordedMail] = []
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self._credentials = credentials
        options: dict[str, Any] = {}
        if credentials is not None:
            options = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = Controller(self, hostname="127.0.0.1", port=free_port(), **options)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        user, password = self._credentials or ("", "")
        ok = data.login == user.encode() and data.password == password.encode()
        # handled=False: aiosmtpd sends the 535 itself (True means "already answered")
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        login = getattr(session.auth_data, "login", b"").decode() or None
        content = envelope.original_content or b""
        self.messages.append(
            RecordedMail(str(envelope.mail_from), list(envelope.rcpt_tos), content, login)
        )
        return "250 Message accepted"

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def __enter__(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
