"""Small JSON request bodies decoded with msgspec, with errors that name the field."""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec
from fastapi import Request
from starlette.responses import Response

from mlpulse.errors import InvalidInputError, MalformedBodyError

T = TypeVar("T")
_AT = re.compile(r"^(?P<reason>.*) - at `\$\.?(?P<path>[^`]*)`$", re.DOTALL)
_encode = msgspec.json.Encoder().encode


async def read_json(request: Request, kind: type[T], *, limit: int = 1024 * 1024) -> T:
    body = await request.body()
    if len(body) > limit:
        raise InvalidInputError(f"body is over the limit of {limit} bytes")
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        match = _AT.match(str(exc))
        field = match.group("path") if match else None
        reason = match.group("reason") if match else str(exc)
        raise InvalidInputError(f"{field or 'body'}: {reason}", field=field or None) from exc
    except msgspec.DecodeError as exc:
        raise MalformedBodyError(f"body is not valid JSON: {exc}") from exc


def json_response(value: object, status: int = 200) -> Response:
    return Response(_encode(value), status, media_type="application/json")
