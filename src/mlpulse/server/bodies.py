"""Request bodies read with a size limit; small JSON bodies decoded with msgspec."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from fastapi import Request
from starlette.responses import Response

from mlpulse.errors import InvalidInputError, MalformedBodyError, PayloadTooLargeError
from mlpulse.server.nesting import check_json_depth
from mlpulse.server.validation_errors import field_and_reason

T = TypeVar("T")
_encode = msgspec.json.Encoder().encode


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise MalformedBodyError(
                f"Content-Length must be an integer; got {declared!r}", field="Content-Length"
            ) from None
        if size > limit:
            raise PayloadTooLargeError(f"body of {size} bytes is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise PayloadTooLargeError(f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, kind: type[T], *, limit: int = 1024 * 1024) -> T:
    body = await read_body(request, limit)
    check_json_depth(body)
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        field, reason = field_and_reason(str(exc))
        raise InvalidInputError(f"{field}: {reason}", field=field) from exc
    except msgspec.DecodeError as exc:
        raise MalformedBodyError(f"body is not valid JSON: {exc}") from exc


def json_response(value: object, status: int = 200) -> Response:
    return Response(_encode(value), status, media_type="application/json")
