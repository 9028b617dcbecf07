"""API keys and their scopes."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass


class Scope(enum.StrEnum):
    """What a key may do. ``admin`` may do everything.

    ``alertmanager`` may only post Prometheus Alertmanager's webhook: alerts from outside
    can page people and, where a runbook allows it, act on production, so the ingest
    keys every serving process holds must not be able to send them.
    """

    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"
    ALERTMANAGER = "alertmanager"


TOKEN_PREFIX = "mlp_"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key. The token itself is never stored, only its SHA-256."""

    key_id: str
    name: str
    scopes: frozenset[Scope]
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: Scope) -> bool:
        """True when this key may act with ``scope``.

        >>> ApiKey("k", "ci", frozenset({Scope.ADMIN}), 0.0).allows(Scope.INGEST)
        True
        >>> ApiKey("k", "ci", frozenset({Scope.READ}), 0.0).allows(Scope.INGEST)
        False
        """
        return self.active and (scope in self.scopes or Scope.ADMIN in self.scopes)


def hash_token(token: str) -> str:
    """The stored form of a token.

    Tokens carry 256 random bits, so a fast hash is enough: a slow password hash
    (bcrypt, argon2) protects guessable secrets and would cost milliseconds a request.
    """
    return hashlib.sha256(token.encode()).hexdigest()
