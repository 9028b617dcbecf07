"""Our errors as HTTP responses: the one table, and the JSON body every error has.

Body: ``{"error": {"type": "...", "message": "...", "field": "..."}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.responses import Response

from mlpulse.errors import (
    ConfigurationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    MalformedBodyError,
    MlpulseError,
    NotFoundError,
    ParameterError,
    PayloadTooLargeError,
    RateLimitedError,
    StoreBusyError,
    StoreError,
    UnauthenticatedError,
    UnsupportedMediaTypeError,
)

# Most specific first: the first class an error is an instance of decides.
STATUS: Final[tuple[tuple[type[MlpulseError], int, str], ...]] = (
    (MalformedBodyError, 400, "malformed_body"),
    (PayloadTooLargeError, 413, "payload_too_large"),
    (UnsupportedMediaTypeError, 415, "unsupported_media_type"),
    (ConflictError, 409, "conflict"),
    (RateLimitedError, 429, "rate_limited"),
    (InvalidInputError, 422, "invalid_input"),
    (ParameterError, 422, "invalid_parameter"),
    (UnauthenticatedError, 401, "unauthenticated"),
    (ForbiddenError, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (StoreBusyError, 503, "busy"),
    (StoreError, 503, "store_unavailable"),
    (ConfigurationError, 500, "configuration"),
)


class ErrorDetail(msgspec.Struct, omit_defaults=True):
    type: str
    message: str
    field: str | None = None


class ErrorBody(msgspec.Struct):
    error: ErrorDetail


_encode = msgspec.json.Encoder().encode


def status_of(exc: MlpulseError) -> tuple[int, str]:
    for cls, status, kind in STATUS:
        if isinstance(exc, cls):
            return status, kind
    return 500, "internal"


def error_response(
    status: int,
    kind: str,
    message: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer, Basic realm="mlpulse"'
    if status == 503:
        headers["Retry-After"] = "1"
    body = ErrorBody(ErrorDetail(type=kind, message=message, field=field))
    return Response(_encode(body), status, headers=headers, media_type="application/json")


async def _mlpulse_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MlpulseError)
    status, kind = status_of(exc)
    field = exc.field if isinstance(exc, InvalidInputError) else None
    message = exc.message if isinstance(exc, InvalidInputError) else str(exc)
    return error_response(status, kind, message, field=field)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    field = ".".join(str(part) for part in first.get("loc", ()))
    return error_response(422, "invalid_input", f"{field}: {first['msg']}", field=field or None)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at the request's path (Starlette's own 405
    names only the first route that matched the path; GET and PUT are often two)."""
    methods: set[str] = set()
    path = request.url.path
    for route in iter_route_contexts(request.app.router.routes):
        pattern = getattr(route, "path_regex", None)
        if route.methods and pattern is not None and pattern.match(path):
            methods.update(route.methods)
    return sorted(methods)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
    return error_response(exc.status_code, kind, str(exc.detail), headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MlpulseError, _mlpulse_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
