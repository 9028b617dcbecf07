"""OpenAPI for bodies we decode with msgspec rather than pydantic.

Routes that read raw bytes (for speed, or for MessagePack) declare their body and
answer with :func:`body_schema` / :func:`response_schema`; :func:`install_openapi`
adds msgspec's JSON Schema of those types to the document's components.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_REF = "#/components/schemas/{name}"


def _ref(kind: type) -> dict[str, str]:
    return {"$ref": _REF.format(name=kind.__name__)}


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


def install_openapi(app: FastAPI, kinds: Sequence[type]) -> None:
    """Make ``app.openapi()`` include the msgspec schemas of ``kinds``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _, components = msgspec.json.schema_components(kinds, ref_template=_REF)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(components)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
