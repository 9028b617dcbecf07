"""API-key authentication: who is calling, and may they do this.

A key travels as ``Authorization: Bearer <key>``, as ``X-API-Key: <key>``, or as the
password of HTTP Basic auth (so a browser can open ``/docs`` and ``/metrics``).
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Awaitable, Callable
from typing import get_type_hints

from fastapi import Request

from mlpulse.domain.auth import ApiKey, Scope, hash_token
from mlpulse.errors import ForbiddenError, UnauthenticatedError
from mlpulse.ports import MetadataStore


def token_from_headers(authorization: str | None, api_key: str | None) -> str | None:
    """The key a request carries, if any.

    >>> token_from_headers("Bearer mlp_x", None)
    'mlp_x'
    >>> token_from_headers("Basic " + base64.b64encode(b"me:mlp_y").decode(), None)
    'mlp_y'
    >>> token_from_headers(None, "mlp_z")
    'mlp_z'
    """
    if api_key:
        return api_key.strip()
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


class Authenticator:
    """Checks tokens against the metadata store, caching answers for a few seconds."""

    def __init__(self, metadata: MetadataStore, *, cache_seconds: float) -> None:
        self._metadata = metadata
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[ApiKey | None, float]] = {}
        self._lock = threading.Lock()

    def _lookup(self, token_hash: str) -> ApiKey | None:
        now = time.monotonic()
        cached = self._cache.get(token_hash)
        if cached is not None and now - cached[1] < self._cache_seconds:
            return cached[0]
        key = self._metadata.find_key(token_hash)
        with self._lock:
            if len(self._cache) > 10_000:  # unknown tokens must not grow this without bound
                self._cache.clear()
            self._cache[token_hash] = (key, now)
        return key

    def authenticate(self, token: str | None, scope: Scope) -> ApiKey:
        if not token:
            raise UnauthenticatedError("an API key is required (Authorization: Bearer <key>)")
        key = self._lookup(hash_token(token))
        if key is None or not key.active:
            raise UnauthenticatedError("the API key is not valid (unknown or revoked)")
        if not key.allows(scope):
            have = ", ".join(sorted(s.value for s in key.scopes))
            raise ForbiddenError(f"this action needs the {scope.value!r} scope; the key has {have}")
        return key


def require(scope: Scope) -> Callable[[Request], Awaitable[ApiKey]]:
    """A FastAPI dependency that admits keys with ``scope`` (or ``admin``)."""

    async def dependency(request: Request) -> ApiKey:
        auth: Authenticator = request.app.state.auth
        token = token_from_headers(
            request.headers.get("authorization"), request.headers.get("x-api-key")
        )
        # Inline, not in a thread: a cached answer is a dict look-up and a miss is one
        # indexed SQLite read (tens of microseconds).
        return auth.authenticate(token, scope)

    return dependency


def requires_key(call: object) -> bool:
    """Whether ``call`` is a dependency that authenticates a key (it returns the caller's
    :class:`ApiKey`, as :func:`require`'s do): for the OpenAPI document's 401/403."""
    if not callable(call):
        return False
    try:
        return get_type_hints(call).get("return") is ApiKey
    except (NameError, TypeError):
        return False
