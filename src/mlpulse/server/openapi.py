"""OpenAPI for bodies we decode with msgspec rather than pydantic, and the errors
every operation may answer.

Routes that read raw bytes (for speed, or for MessagePack) declare their body and
answer with :func:`body_schema` / :func:`response_schema`; :func:`install_openapi`
adds msgspec's JSON Schema of those types (and of every type a route names this way)
to the document's components, and documents the 4xx answers of each operation with
the one error body (:class:`mlpulse.server.errors.ErrorBody`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from importlib import import_module
from typing import Any, Final

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import iter_route_contexts

from mlpulse.server.auth import requires_key
from mlpulse.server.errors import ErrorBody

_REF: Final = "#/components/schemas/{name}"
# Routes name a type before the document exists; install_openapi swaps in msgspec's
# name for it (which is module-qualified when two types share a name).
_TYPE_REF: Final = "mlpulse-type:"

_ERRORS: Final = {
    "400": "The body does not parse, or nests too deep",
    "401": "No API key, or a key that is unknown or revoked",
    "403": "The key lacks the scope this action needs",
    "404": "No such model, key or other named thing",
    "413": "The body is over the size limit",
    "415": "Content-Type or Content-Encoding not supported",
    "422": "A field, parameter or value is not valid",
}


def _ref(kind: type) -> dict[str, str]:
    return {"$ref": f"{_TYPE_REF}{kind.__module__}:{kind.__qualname__}"}


def body_schema(kind: type, *, msgpack: bool = True) -> dict[str, Any]:
    content = {"application/json": {"schema": _ref(kind)}}
    if msgpack:
        content["application/msgpack"] = {"schema": _ref(kind)}
    return {"requestBody": {"required": True, "content": content}}


def response_schema(kind: type) -> dict[str, Any]:
    return {
        "responses": {
            "200": {
                "description": "Success",
                "content": {"application/json": {"schema": _ref(kind)}},
            }
        }
    }


def _refs(node: Any) -> Iterator[dict[str, Any]]:
    """Every ``{"$ref": ...}`` object in a JSON document."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _named_type(ref: str) -> type:
    module, _, qualname = ref.removeprefix(_TYPE_REF).partition(":")
    found: Any = import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    assert isinstance(found, type), ref
    return found


def _add_schemas(document: dict[str, Any], kinds: Sequence[type]) -> dict[type, str]:
    """Put the schemas of ``kinds`` and of every type the routes name in the components;
    the reference of each."""
    placeholders = [r for r in _refs(document) if r["$ref"].startswith(_TYPE_REF)]
    named = {r["$ref"]: _named_type(r["$ref"]) for r in placeholders}
    every = list(dict.fromkeys([*kinds, *named.values()]))
    schemas, components = msgspec.json.schema_components(every, ref_template=_REF)
    ref_of = {kind: schema["$ref"] for kind, schema in zip(every, schemas, strict=True)}
    for placeholder in placeholders:
        placeholder["$ref"] = ref_of[named[placeholder["$ref"]]]
    document.setdefault("components", {}).setdefault("schemas", {}).update(components)
    # Our handler answers validation errors with the error body, not FastAPI's.
    for name in ("HTTPValidationError", "ValidationError"):
        document["components"]["schemas"].pop(name, None)
    return ref_of


def _errors_of(path: str, method: str, operation: dict[str, Any], keyed: bool) -> list[str]:
    codes = []
    has_body = "requestBody" in operation
    if has_body:
        codes += ["400", "413"]
        if "application/msgpack" in operation["requestBody"].get("content", {}):
            codes.append("415")
    if keyed:
        codes += ["401", "403"]
    if "{" in path:
        codes.append("404")
    if has_body or operation.get("parameters"):
        codes.append("422")
    return codes


def _add_errors(app: FastAPI, document: dict[str, Any], error_ref: str) -> None:
    keyed = {
        (str(route.path_format), method.lower())
        for route in iter_route_contexts(app.routes)
        if route.methods and any(requires_key(d.call) for d in route.dependant.dependencies)
        for method in route.methods
    }
    content = {"application/json": {"schema": {"$ref": error_ref}}}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's, with its own body
            for code in _errors_of(path, method, operation, (path, method) in keyed):
                responses[code] = {"description": _ERRORS[code], "content": content}


def install_openapi(app: FastAPI, kinds: Sequence[type]) -> None:
    """Make ``app.openapi()`` include the msgspec schemas of ``kinds`` and of every type
    a route names, and the error answers of every operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            ref_of = _add_schemas(document, [*kinds, ErrorBody])
            _add_errors(app, document, ref_of[ErrorBody])
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
