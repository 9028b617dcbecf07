from __future__ import annotations

from mlpulse.domain.auth import ApiKey, Scope, hash_token


def test_api_key_admin_scope_allows_everything() -> None:
    key = ApiKey("k", "ops", frozenset({Scope.ADMIN}), created_at=0.0)
    assert all(key.allows(scope) for scope in Scope)


def test_api_key_allows_only_its_scopes() -> None:
    key = ApiKey("k", "serving", frozenset({Scope.INGEST}), created_at=0.0)
    assert key.allows(Scope.INGEST)
    assert not key.allows(Scope.READ)
    assert not key.allows(Scope.ADMIN)


def test_api_key_allows_nothing_when_revoked() -> None:
    key = ApiKey("k", "old", frozenset({Scope.ADMIN}), created_at=0.0, revoked_at=1.0)
    assert not any(key.allows(scope) for scope in Scope)


def test_hash_token_is_stable_and_does_not_contain_the_token() -> None:
    assert hash_token("mlp_abc") == hash_token("mlp_abc")
    assert "mlp_abc" not in hash_token("mlp_abc")
    assert hash_token("mlp_abc") != hash_token("mlp_abd")
