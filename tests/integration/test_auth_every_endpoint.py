"""Every endpoint refuses callers without the right key, over real HTTP.

One table lists every route with the scope it needs; each test runs over the
whole table. A last test compares the table with the routes the app defines, so
an endpoint cannot be added without saying who may call it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from mlpulse.domain.auth import Scope
from mlpulse.server.app import create_app
from mlpulse.server.settings import Settings

if TYPE_CHECKING:
    from tests.conftest import RunningCollector

MODEL = "auth-table"  # the shared collector is told about it once (fixture below)


@dataclass(frozen=True)
class Endpoint:
    method: str
    route: str  # the path template, as the app declares it
    path: str  # a concrete path to call
    scope: Scope
    ok: int  # the answer to a caller with the scope
    json: Any = None
    also: Scope | None = None  # a second scope that may call it (read OR ingest)

    def __str__(self) -> str:
        return f"{self.method} {self.route}"


ENDPOINTS = (
    Endpoint("POST", "/v1/ingest", "/v1/ingest", Scope.INGEST, 200, {"events": []}),
    # OTLP/HTTP (JSON): an export with no spans is accepted.
    Endpoint("POST", "/v1/traces", "/v1/traces", Scope.INGEST, 200, {"resourceSpans": []}),
    Endpoint("POST", "/v1/logs", "/v1/logs", Scope.INGEST, 200, {"resourceLogs": []}),
    Endpoint("GET", "/v1/models", "/v1/models", Scope.READ, 200),
    Endpoint(
        "GET", "/v1/models/{model:path}/summary", f"/v1/models/{MODEL}/summary", Scope.READ, 200
    ),
    Endpoint(
        "PUT",
        "/v1/models/{model:path}/schema",
        f"/v1/models/{MODEL}/schema",
        Scope.ADMIN,
        200,
        {"columns": {"amount": "numeric"}},
    ),
    Endpoint("POST", "/v1/keys", "/v1/keys", Scope.ADMIN, 201, {"scopes": ["read"], "name": "t"}),
    Endpoint("GET", "/v1/keys", "/v1/keys", Scope.ADMIN, 200),
    # A key id that does not exist: authorised callers get as far as "not found".
    Endpoint("DELETE", "/v1/keys/{key_id}", "/v1/keys/no-such-key", Scope.ADMIN, 404),
    # A JSON body where a Parquet or CSV file belongs: authorised callers get a 415.
    Endpoint(
        "POST",
        "/v1/models/{model:path}/reference",
        f"/v1/models/{MODEL}/reference",
        Scope.ADMIN,
        415,
        {"not": "a file"},
    ),
    Endpoint(
        "POST",
        "/v1/models/{model:path}/reference/window",
        f"/v1/models/{MODEL}/reference/window",
        Scope.ADMIN,
        404,
        {"start": 1, "end": 2},
    ),
    Endpoint(
        "GET", "/v1/models/{model:path}/reference", f"/v1/models/{MODEL}/reference", Scope.READ, 404
    ),
    Endpoint(
        "GET", "/v1/metrics/query", "/v1/metrics/query?name=mlpulse_error_rate", Scope.READ, 200
    ),
    Endpoint("POST", "/v1/evaluator/tick", "/v1/evaluator/tick", Scope.ADMIN, 200),
    Endpoint("GET", "/v1/slos", "/v1/slos", Scope.READ, 200),
    Endpoint("GET", "/v1/config", "/v1/config", Scope.READ, 200),
    Endpoint("GET", "/v1/config/known", "/v1/config/known", Scope.READ, 200),
    Endpoint("PUT", "/v1/config", "/v1/config", Scope.ADMIN, 200, {"version": 1}),
    Endpoint("GET", "/v1/alerts", "/v1/alerts", Scope.READ, 200),
    Endpoint("POST", "/v1/alerts/{fingerprint}/ack", "/v1/alerts/nope/ack", Scope.ADMIN, 404),
    Endpoint(
        "POST", "/v1/alerts/{fingerprint}/resolve", "/v1/alerts/nope/resolve", Scope.ADMIN, 404
    ),
    Endpoint("POST", "/v1/alerts/tick", "/v1/alerts/tick", Scope.ADMIN, 200),
    Endpoint("GET", "/v1/silences", "/v1/silences", Scope.READ, 200),
    Endpoint(
        "POST",
        "/v1/silences",
        "/v1/silences",
        Scope.ADMIN,
        201,
        {"matchers": {"model": "x"}, "comment": "t", "duration": "1m"},
    ),
    Endpoint("DELETE", "/v1/silences/{silence_id}", "/v1/silences/nope", Scope.ADMIN, 404),
    Endpoint("GET", "/v1/outbox", "/v1/outbox", Scope.ADMIN, 200),
    Endpoint(
        "POST",
        "/v1/alertmanager/webhook",
        "/v1/alertmanager/webhook",
        Scope.ALERTMANAGER,
        200,
        {"alerts": []},
    ),
    # Registry: an invalid body, or a model the registry does not know, so that the
    # answers do not depend on the order the tests run in.
    Endpoint(
        "POST",
        "/v1/registry/{model:path}/versions",
        f"/v1/registry/{MODEL}/versions",
        Scope.ADMIN,
        422,
        {"artifact_uri": "s3://m/v1"},
    ),
    Endpoint("GET", "/v1/registry/{model:path}", "/v1/registry/no-such-model", Scope.READ, 404),
    Endpoint(
        "PUT",
        "/v1/registry/{model:path}/routing",
        "/v1/registry/no-such-model/routing",
        Scope.ADMIN,
        404,
        {"versions": [{"version": "v1", "stage": "champion", "weight": 100}]},
    ),
    Endpoint(
        "POST",
        "/v1/registry/{model:path}/promote",
        "/v1/registry/no-such-model/promote",
        Scope.ADMIN,
        404,
        {"version": "v1"},
    ),
    Endpoint(
        "POST",
        "/v1/registry/{model:path}/rollback",
        "/v1/registry/no-such-model/rollback",
        Scope.ADMIN,
        404,
        {},
    ),
    Endpoint("GET", "/v1/deployments", "/v1/deployments", Scope.READ, 200),
    Endpoint(
        "GET",
        "/v1/deployments/impact",
        "/v1/deployments/impact?model=no-such-model",
        Scope.READ,
        404,
    ),
    Endpoint(
        "GET",
        "/v1/routing/{model:path}",
        "/v1/routing/no-such-model",
        Scope.READ,
        404,
        also=Scope.INGEST,
    ),
    Endpoint("GET", "/v1/incidents", "/v1/incidents", Scope.READ, 200),
    Endpoint("GET", "/v1/incidents/approvals", "/v1/incidents/approvals", Scope.READ, 200),
    Endpoint(
        "POST",
        "/v1/incidents/approvals/{approval_id}",
        "/v1/incidents/approvals/nope",
        Scope.ADMIN,
        404,
    ),
    Endpoint(
        "POST",
        "/v1/incidents/approvals/{approval_id}/reject",
        "/v1/incidents/approvals/nope/reject",
        Scope.ADMIN,
        404,
    ),
    Endpoint(
        "GET", "/v1/incidents/{incident_id}/similar", "/v1/incidents/nope/similar", Scope.READ, 404
    ),
    Endpoint("GET", "/v1/incidents/{incident_id}", "/v1/incidents/nope", Scope.READ, 404),
    Endpoint("POST", "/v1/incidents/{incident_id}/ack", "/v1/incidents/nope/ack", Scope.ADMIN, 404),
    Endpoint(
        "POST",
        "/v1/incidents/{incident_id}/resolve",
        "/v1/incidents/nope/resolve",
        Scope.ADMIN,
        404,
    ),
    Endpoint(
        "POST",
        "/v1/incidents/{incident_id}/notes",
        "/v1/incidents/nope/notes",
        Scope.ADMIN,
        404,
        {"text": "hi"},
    ),
    Endpoint(
        "GET",
        "/v1/incidents/{incident_id}/postmortem",
        "/v1/incidents/nope/postmortem",
        Scope.READ,
        404,
    ),
    # Experiments: an invalid body, or an experiment that does not exist.
    Endpoint("POST", "/v1/experiments", "/v1/experiments", Scope.ADMIN, 422, {"name": "x"}),
    Endpoint("GET", "/v1/experiments", "/v1/experiments", Scope.READ, 200),
    Endpoint("GET", "/v1/experiments/{name}", "/v1/experiments/nope", Scope.READ, 404),
    Endpoint(
        "POST", "/v1/experiments/{name}/start", "/v1/experiments/nope/start", Scope.ADMIN, 404
    ),
    Endpoint("POST", "/v1/experiments/{name}/stop", "/v1/experiments/nope/stop", Scope.ADMIN, 404),
    Endpoint(
        "GET", "/v1/experiments/{name}/results", "/v1/experiments/nope/results", Scope.READ, 404
    ),
    Endpoint(
        "GET", "/v1/experiments/{name}/report", "/v1/experiments/nope/report", Scope.READ, 404
    ),
    Endpoint(
        "GET",
        "/v1/experiments/{name}/assignment",
        "/v1/experiments/nope/assignment?unit=u1",
        Scope.READ,
        404,
        also=Scope.INGEST,
    ),
    # Rollouts: an invalid body, or a rollout that does not exist.
    Endpoint("POST", "/v1/rollouts", "/v1/rollouts", Scope.ADMIN, 422, {"model": "x"}),
    Endpoint("GET", "/v1/rollouts", "/v1/rollouts", Scope.READ, 200),
    Endpoint("GET", "/v1/rollouts/{rollout_id}", "/v1/rollouts/nope", Scope.READ, 404),
    Endpoint("POST", "/v1/rollouts/{rollout_id}/tick", "/v1/rollouts/nope/tick", Scope.ADMIN, 404),
    # Bandits: an invalid body, or a bandit that does not exist.
    Endpoint("POST", "/v1/bandits", "/v1/bandits", Scope.ADMIN, 422, {"model": "x"}),
    Endpoint("GET", "/v1/bandits", "/v1/bandits", Scope.READ, 200),
    Endpoint("GET", "/v1/bandits/{bandit_id}", "/v1/bandits/nope", Scope.READ, 404),
    Endpoint("POST", "/v1/bandits/{bandit_id}/tick", "/v1/bandits/nope/tick", Scope.ADMIN, 404),
    Endpoint("POST", "/v1/bandits/{bandit_id}/stop", "/v1/bandits/nope/stop", Scope.ADMIN, 404),
    # A whole backup of the shared collector's store, uncompressed (it is small).
    Endpoint("POST", "/v1/admin/backup", "/v1/admin/backup?compression=none", Scope.ADMIN, 200),
    Endpoint("GET", "/v1/health", "/v1/health", Scope.READ, 200),
    Endpoint("GET", "/metrics", "/metrics", Scope.READ, 200),
    Endpoint("GET", "/v1/cluster", "/v1/cluster", Scope.READ, 200),
    Endpoint("GET", "/openapi.json", "/openapi.json", Scope.READ, 200),
    Endpoint("GET", "/docs", "/docs", Scope.READ, 200),
    Endpoint("GET", "/docs/assets/{name}", "/docs/assets/swagger-ui.css", Scope.READ, 200),
)
PUBLIC = (("GET", "/healthz"), ("GET", "/readyz"))

# Every (endpoint, scope of a key that may not call it) pair.
FORBIDDEN = [
    pytest.param(endpoint, scope, id=f"{endpoint}-{scope}")
    for endpoint in ENDPOINTS
    for scope in (Scope.INGEST, Scope.READ, Scope.ALERTMANAGER)
    if scope not in (endpoint.scope, endpoint.also)
]
ALLOWED = [
    pytest.param(endpoint, scope, id=f"{endpoint}-{scope}")
    for endpoint in ENDPOINTS
    for scope in dict.fromkeys(s for s in (endpoint.scope, endpoint.also, Scope.ADMIN) if s)
]


_ALERTMANAGER_KEYS: dict[str, str] = {}  # per collector URL: made once, through the API


def key_for(collector: RunningCollector, scope: Scope) -> str:
    if scope == Scope.ALERTMANAGER:
        if collector.url not in _ALERTMANAGER_KEYS:
            made = httpx.post(
                f"{collector.url}/v1/keys",
                json={"scopes": ["alertmanager"], "name": "alertmanager"},
                headers=collector.headers(collector.admin_key),
            )
            assert made.status_code == 201, made.text
            _ALERTMANAGER_KEYS[collector.url] = made.json()["token"]
        return _ALERTMANAGER_KEYS[collector.url]
    return {
        Scope.INGEST: collector.ingest_key,
        Scope.READ: collector.read_key,
        Scope.ADMIN: collector.admin_key,
    }[scope]


def call(
    collector: RunningCollector, endpoint: Endpoint, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.request(
        endpoint.method,
        collector.url + endpoint.path,
        json=endpoint.json,
        headers=headers or {},
        timeout=30.0,
    )


@pytest.fixture(scope="module")
def known_model(shared_collector: RunningCollector) -> str:
    """MODEL has sent a prediction, so its summary exists."""
    event = {"kind": "prediction", "model": MODEL, "version": "v1", "request_id": "r1"}
    response = httpx.post(
        f"{shared_collector.url}/v1/ingest",
        json={"events": [event]},
        headers=shared_collector.headers(shared_collector.ingest_key),
    )
    assert response.status_code == 200, response.text
    return MODEL


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_endpoint_answers_401_with_www_authenticate_when_no_key_is_sent(
    shared_collector: RunningCollector, endpoint: Endpoint
) -> None:
    response = call(shared_collector, endpoint)

    assert response.status_code == 401
    assert "Bearer" in response.headers["WWW-Authenticate"]
    assert response.json()["error"]["type"] == "unauthenticated"
    assert "API key is required" in response.json()["error"]["message"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_endpoint_answers_401_when_key_is_unknown(
    shared_collector: RunningCollector, endpoint: Endpoint
) -> None:
    unknown = "mlp_000000000000_" + "x" * 43

    response = call(shared_collector, endpoint, shared_collector.headers(unknown))

    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert response.json()["error"]["type"] == "unauthenticated"
    assert "not valid" in response.json()["error"]["message"]


@pytest.mark.parametrize(("endpoint", "scope"), FORBIDDEN)
def test_endpoint_answers_403_naming_the_scope_when_key_lacks_it(
    shared_collector: RunningCollector, endpoint: Endpoint, scope: Scope
) -> None:
    headers = shared_collector.headers(key_for(shared_collector, scope))

    response = call(shared_collector, endpoint, headers)

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["type"] == "forbidden"
    needed = " or ".join(f"'{s.value}'" for s in (endpoint.scope, endpoint.also) if s)
    assert f"{needed} scope" in error["message"]


@pytest.mark.parametrize(("endpoint", "scope"), ALLOWED)
def test_endpoint_answers_when_key_has_the_scope_or_is_admin(
    shared_collector: RunningCollector, known_model: str, endpoint: Endpoint, scope: Scope
) -> None:
    headers = shared_collector.headers(key_for(shared_collector, scope))

    response = call(shared_collector, endpoint, headers)

    assert response.status_code not in (401, 403)
    assert response.status_code == endpoint.ok, response.text


@pytest.mark.parametrize(("method", "path"), PUBLIC)
def test_health_endpoint_answers_200_without_a_key(
    shared_collector: RunningCollector, method: str, path: str
) -> None:
    response = httpx.request(method, shared_collector.url + path)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _x_api_key(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def _basic_password(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"anyone:{key}".encode()).decode()}


@pytest.mark.parametrize("carry", [_bearer, _x_api_key, _basic_password], ids=lambda f: f.__name__)
def test_key_is_accepted_as_bearer_x_api_key_or_basic_password(
    shared_collector: RunningCollector, carry: Any
) -> None:
    response = httpx.get(
        f"{shared_collector.url}/v1/models", headers=carry(shared_collector.read_key)
    )

    assert response.status_code == 200
    assert "models" in response.json()


def test_key_is_refused_with_401_when_it_has_been_revoked(
    shared_collector: RunningCollector,
) -> None:
    admin = shared_collector.headers(shared_collector.admin_key)
    created = httpx.post(
        f"{shared_collector.url}/v1/keys", json={"scopes": ["read"], "name": "soon-revoked"},
        headers=admin,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    key_id, token = created.json()["key_id"], created.json()["token"]
    models = f"{shared_collector.url}/v1/models"
    assert httpx.get(models, headers=shared_collector.headers(token)).status_code == 200

    revoked = httpx.delete(f"{shared_collector.url}/v1/keys/{key_id}", headers=admin)

    assert revoked.status_code == 204
    refused = httpx.get(models, headers=shared_collector.headers(token))
    assert refused.status_code == 401
    assert "WWW-Authenticate" in refused.headers
    assert "revoked" in refused.json()["error"]["message"]
    listed = httpx.get(f"{shared_collector.url}/v1/keys", headers=admin).json()["keys"]
    assert [k["revoked_at"] is not None for k in listed if k["key_id"] == key_id] == [True]
    assert all("token" not in k for k in listed)


def defined_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route, with the prefixes of included routers.

    FastAPI keeps included routers as branches of ``app.routes``; ``iter_route_contexts``
    walks them. A route without methods (a mount, a websocket) shows as ``("*", path)``
    so that it, too, needs a row in the table.
    """
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        path = str(context.path)
        found.update((method, path) for method in context.methods or {"*"})
    return found


def test_auth_table_covers_every_route_the_app_defines(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))

    # The dashboard's routes take a session cookie, not a key: test_dashboard.py has their
    # table (DASHBOARD_ROUTES), checked the same way.
    from tests.integration.test_dashboard import DASHBOARD_ROUTES

    defined = defined_routes(app) - set(DASHBOARD_ROUTES)

    tested = {(e.method, e.route) for e in ENDPOINTS} | set(PUBLIC)
    assert defined - tested == set(), "routes without an auth test: add them to ENDPOINTS"
    assert tested - defined == set(), "ENDPOINTS lists routes the app does not define"
