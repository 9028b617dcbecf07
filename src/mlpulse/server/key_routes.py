"""``/v1/keys``: create, list and revoke API keys (admin scope)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlpulse.domain.auth import ApiKey, Scope
from mlpulse.errors import NotFoundError
from mlpulse.ports import Clock, MetadataStore
from mlpulse.server.auth import require
from mlpulse.server.bodies import json_response, read_json
from mlpulse.server.openapi import body_schema, response_schema

router = APIRouter(prefix="/v1/keys", tags=["keys"], dependencies=[Depends(require(Scope.ADMIN))])


class KeyRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1)]
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""


class KeyView(msgspec.Struct, frozen=True, omit_defaults=True):
    key_id: str
    name: str
    scopes: list[Scope]
    created_at: float
    revoked_at: float | None = None
    token: str | None = None


class KeyList(msgspec.Struct, frozen=True):
    keys: list[KeyView]


def key_view(key: ApiKey, token: str | None = None) -> KeyView:
    return KeyView(
        key_id=key.key_id,
        name=key.name,
        scopes=sorted(key.scopes),
        created_at=key.created_at,
        revoked_at=key.revoked_at,
        token=token,
    )


@router.post(
    "",
    summary="Create a key; the token is shown only in this answer",
    openapi_extra={**body_schema(KeyRequest, msgpack=False), **response_schema(KeyView)},
)
async def create_key(request: Request) -> Response:
    metadata: MetadataStore = request.app.state.metadata
    clock: Clock = request.app.state.clock
    body = await read_json(request, KeyRequest)
    key, token = await run_in_threadpool(
        lambda: metadata.create_key(body.scopes, name=body.name, now=clock.now())
    )
    return json_response(key_view(key, token), 201)


@router.get("", summary="List keys (never their tokens)", openapi_extra=response_schema(KeyList))
async def list_keys(request: Request) -> Response:
    metadata: MetadataStore = request.app.state.metadata
    keys = await run_in_threadpool(metadata.list_keys)
    return json_response(KeyList([key_view(k) for k in keys]))


@router.delete("/{key_id}", summary="Revoke a key", status_code=204)
async def revoke_key(request: Request, key_id: str) -> Response:
    metadata: MetadataStore = request.app.state.metadata
    clock: Clock = request.app.state.clock
    if not await run_in_threadpool(lambda: metadata.revoke_key(key_id, now=clock.now())):
        raise NotFoundError(f"no key with id {key_id!r}")
    return Response(status_code=204)
