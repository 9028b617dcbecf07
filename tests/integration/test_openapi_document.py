"""The OpenAPI document: every ``$ref`` resolves, every operation documents the 4xx
answers it gives (with the one error body), and 405 answers say what is allowed."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from mlpulse.server.app import create_app
from mlpulse.server.settings import Settings
from tests.integration.test_auth_every_endpoint import ENDPOINTS

# Starlette 1.x warns at import that its TestClient wants `httpx2` (see test_postgres_replicas).
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ERROR_REF = "#/components/schemas/ErrorBody"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("openapi")))


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def resolve(document: dict[str, Any], ref: str) -> Any:
    """A local JSON pointer (RFC 6901) into the document; KeyError if it points nowhere."""
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def operation(document: dict[str, Any], method: str, route: str) -> dict[str, Any]:
    path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route)  # {model:path} is {model} in OpenAPI
    op: dict[str, Any] = document["paths"][path][method.lower()]
    return op


def test_openapi_every_ref_resolves(document: dict[str, Any]) -> None:
    found = set(refs(document))
    assert len(found) > 50
    unresolved = []
    for ref in found:
        try:
            resolve(document, ref)
        except KeyError:
            unresolved.append(ref)
    assert unresolved == []


def test_openapi_keyed_operations_document_401_and_403_with_the_error_body(
    document: dict[str, Any],
) -> None:
    documented = [e for e in ENDPOINTS if e.route.startswith("/v1/") or e.route == "/metrics"]
    assert len(documented) > 40
    for endpoint in documented:
        responses = operation(document, endpoint.method, endpoint.route)["responses"]
        for code in ("401", "403"):
            assert code in responses, f"{endpoint} lacks {code}"
            schema = responses[code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": ERROR_REF}, endpoint


def test_openapi_documents_404_413_415_and_422_where_they_apply(
    document: dict[str, Any],
) -> None:
    ingest = operation(document, "POST", "/v1/ingest")["responses"]
    assert {"400", "413", "415", "422"} <= set(ingest)
    config = operation(document, "PUT", "/v1/config")["responses"]
    assert {"400", "413", "422"} <= set(config) and "404" not in config
    incident = operation(document, "GET", "/v1/incidents/{incident_id}")["responses"]
    assert {"404", "422"} <= set(incident) and "413" not in incident
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            for code, answer in op["responses"].items():
                if code.startswith("4"):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": ERROR_REF}, (method, path, code)
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/config", "GET, PUT"),
        ("GET", "/v1/ingest", "POST"),
        ("PATCH", "/v1/keys", "GET, POST"),
        ("PUT", "/v1/models", "GET"),
        ("DELETE", "/", "GET"),
    ],
)
def test_method_not_allowed_answers_carry_allow(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    answer = client.request(method, path)
    assert answer.status_code == 405, answer.text
    assert answer.headers["Allow"] == allowed
    assert answer.json()["error"]["type"] == "method_not_allowed"
    for listed in allowed.split(", "):  # each method listed is answered (not 405)
        assert client.request(listed, path).status_code != 405
