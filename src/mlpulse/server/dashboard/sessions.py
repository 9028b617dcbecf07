"""Dashboard sessions: a signed cookie naming the API key that logged in.

The cookie holds ``{session id, key id, CSRF token, expiry}`` as base64 JSON, signed with
HMAC-SHA256 under a secret kept in the data directory (``dashboard.secret``, made on
first use with mode 0600), so sessions survive a restart of the collector and a
tampered cookie is refused. The key itself is never in the cookie: each request looks
the key up by id (cached for the collector's key cache time), so revoking the key or
changing its scopes ends or narrows its sessions within that time.

Logging out ends the session in the metadata store (:meth:`MetadataStore.end_session`,
kept until the cookie would expire), and every request checks it there: a cookie copied
before logout is refused at once, by every replica sharing the store. Cookies without a
session id (made before sessions had one) are refused, since they could not be ended.

Expiry uses the wall clock, on purpose: the collector's clock may be simulated (the
demo runs days in minutes) and a session is a security matter in real time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from mlpulse.domain.auth import ApiKey, Scope
from mlpulse.ports import MetadataStore

SESSION_COOKIE: Final = "mlpulse_session"
LOGIN_COOKIE: Final = "mlpulse_login"  # the CSRF token of the login form
SESSION_SECONDS: Final = 12 * 3600
SECRET_FILE: Final = "dashboard.secret"


def load_secret(data_dir: Path) -> bytes:
    """The signing secret in ``data_dir``, made (32 random bytes, mode 0600) if absent."""
    path = data_dir / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) >= 32:
            return secret
        # A truncated file (a crash while writing it): start again with a new secret.
        path.unlink(missing_ok=True)
        return load_secret(data_dir)
    secret = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as file:
        file.write(secret)
        file.flush()
        os.fsync(file.fileno())
    return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and checks small JSON payloads (``payload.signature``)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self._secret, f"{purpose}:{body}".encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, payload: dict[str, object]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def verify(self, purpose: str, token: str | None) -> dict[str, object] | None:
        """The payload of a token signed for ``purpose``, or None when it is not one."""
        if not token or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            return None
        return payload if isinstance(payload, dict) else None


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in browser: the key it logged in with (as it is now) and its CSRF token."""

    key: ApiKey
    csrf_token: str
    expires_at: float
    session_id: str

    @property
    def who(self) -> str:
        return self.key.name or self.key.key_id

    @property
    def can_act(self) -> bool:
        """Acknowledging and silencing need the ``admin`` scope, as in the API."""
        return self.key.allows(Scope.ADMIN)


class Sessions:
    """Makes and reads session and login-form tokens."""

    def __init__(
        self,
        signer: Signer,
        metadata: MetadataStore,
        *,
        cache_seconds: float,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._signer = signer
        self._metadata = metadata
        self._cache_seconds = cache_seconds
        self._wall = wall
        self._keys: dict[str, tuple[ApiKey | None, float]] = {}
        self._lock = threading.Lock()

    # -- the login form's CSRF token (double submit: cookie and hidden field) ---------------

    def new_login_token(self) -> str:
        return self._signer.sign("login", {"n": secrets.token_urlsafe(16)})

    def login_token_valid(self, cookie: str | None, field: str | None) -> bool:
        if not cookie or not field or not hmac.compare_digest(cookie, field):
            return False
        return self._signer.verify("login", cookie) is not None

    # -- sessions ---------------------------------------------------------------------------

    def start(self, key: ApiKey) -> tuple[str, Session]:
        """A new session of ``key``: the cookie value and the session."""
        expires = self._wall() + SESSION_SECONDS
        csrf = secrets.token_urlsafe(24)
        session_id = secrets.token_urlsafe(18)
        payload: dict[str, object] = {"s": session_id, "k": key.key_id, "c": csrf, "e": expires}
        token = self._signer.sign("session", payload)
        return token, Session(key, csrf, expires, session_id)

    def end(self, session: Session) -> None:
        """Log ``session`` out everywhere: its cookie is refused from now on."""
        self._metadata.end_session(
            session.session_id, expires_at=session.expires_at, now=self._wall()
        )

    def read(self, token: str | None) -> Session | None:
        """The session a cookie holds, if it is signed, unexpired and its key still reads."""
        payload = self._signer.verify("session", token)
        if payload is None:
            return None
        session_id, key_id = payload.get("s"), payload.get("k")
        csrf, expires = payload.get("c"), payload.get("e")
        if not isinstance(session_id, str) or not isinstance(key_id, str):
            return None
        if not isinstance(csrf, str):
            return None
        if not isinstance(expires, int | float) or expires <= self._wall():
            return None
        key = self._key(key_id)
        if key is None or not key.allows(Scope.READ):
            return None
        # Not cached: a logout on any replica must end the session on all of them at once
        # (one primary-key read; dashboard requests are few).
        if self._metadata.session_ended(session_id):
            return None
        return Session(key, csrf, float(expires), session_id)

    def _key(self, key_id: str) -> ApiKey | None:
        now = time.monotonic()
        with self._lock:
            cached = self._keys.get(key_id)
        if cached is not None and now - cached[1] < self._cache_seconds:
            return cached[0]
        # Keys are few (people and services, not users): a list is one small SQLite read.
        found = next((k for k in self._metadata.list_keys() if k.key_id == key_id), None)
        with self._lock:
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[key_id] = (found, now)
        return found
