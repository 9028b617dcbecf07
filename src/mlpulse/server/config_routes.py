"""``/v1/config``: the applied ``mlpulse.yaml`` (monitors as code), read and replaced.

``mlpulse apply -f mlpulse.yaml`` reads and validates the file on the user's machine
(where the reference files are), uploads the references, then PUTs the document here
as JSON; the server validates it again (a client may send anything) and answers with
the plan it applied, and the warnings ``mlpulse plan`` shows: names in the document that
nothing the collector writes or has seen matches (:mod:`mlpulse.domain.config_warnings`).
Warnings do not stop the apply. ``mlpulse plan`` GETs the applied document and diffs
locally.
"""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlpulse.adapters.notify import settings_problems
from mlpulse.domain.auth import Scope
from mlpulse.domain.config_decode import decode_config
from mlpulse.domain.config_plan import Change, plan
from mlpulse.domain.config_warnings import Seen, config_warnings
from mlpulse.domain.monitoring import Config
from mlpulse.domain.schema import ColumnKind
from mlpulse.errors import InvalidInputError, MalformedBodyError
from mlpulse.ports import Clock, MetadataStore, SeriesStore
from mlpulse.server.auth import require
from mlpulse.server.bodies import json_response, read_body
from mlpulse.server.nesting import check_json_depth
from mlpulse.server.openapi import body_schema, response_schema

router = APIRouter(prefix="/v1/config", tags=["config"])


class AppliedConfig(msgspec.Struct, frozen=True):
    config: Config | None
    applied_at: float | None


class ConfigWarning(msgspec.Struct, frozen=True):
    """A name nothing matches: where (``rules.r.series``) and what, with "did you mean"."""

    path: str
    message: str


class ApplyResult(msgspec.Struct, frozen=True):
    applied_at: float
    changes: list[Change]
    plan: str
    warnings: list[ConfigWarning] = msgspec.field(default_factory=list)


class KnownNames(msgspec.Struct, frozen=True):
    """What the collector has seen, for ``mlpulse plan``'s warnings: each model's columns,
    and the values of each label on its series (and every version)."""

    models: dict[str, list[str]]
    labels: dict[str, list[str]]


def known_names(metadata: MetadataStore, series: SeriesStore) -> KnownNames:
    models = metadata.list_models()
    labels: dict[str, set[str]] = {"version": {v.version for m in models for v in m.versions}}
    for point in series.latest_points():
        for key, value in point.labels.items():
            labels.setdefault(key, set()).add(value)
    return KnownNames(
        models={info.model: sorted(info.schema) for info in models},
        labels={key: sorted(values) for key, values in sorted(labels.items())},
    )


def seen(known: KnownNames) -> Seen:
    return Seen(
        models={m: frozenset(columns) for m, columns in known.models.items()},
        labels={k: frozenset(values) for k, values in known.labels.items()},
    )


class AppliedConfigCache:
    """The applied config for the background loops: decoded again only when it changes."""

    def __init__(self, metadata: MetadataStore) -> None:
        self._metadata = metadata
        self._text: str | None = None
        self._config: Config | None = None

    def __call__(self) -> Config | None:
        found = self._metadata.applied_config()
        text = None if found is None else found[0]
        if text != self._text:
            self._config = None if text is None else msgspec.json.decode(text, type=Config)
            self._text = text
        return self._config


def applied(metadata: MetadataStore) -> Config | None:
    """The applied config, or None before the first apply."""
    found = metadata.applied_config()
    return None if found is None else msgspec.json.decode(found[0], type=Config)


@router.get(
    "",
    summary="The applied monitors-as-code document",
    openapi_extra=response_schema(AppliedConfig),
    dependencies=[Depends(require(Scope.READ))],
)
async def get_config(request: Request) -> Response:
    metadata: MetadataStore = request.app.state.metadata
    found = await run_in_threadpool(metadata.applied_config)
    if found is None:
        return json_response(AppliedConfig(None, None))
    return json_response(AppliedConfig(msgspec.json.decode(found[0], type=Config), found[1]))


@router.get(
    "/known",
    summary="The models, columns and label values the collector has seen (for plan's warnings)",
    openapi_extra=response_schema(KnownNames),
    dependencies=[Depends(require(Scope.READ))],
)
async def get_known(request: Request) -> Response:
    metadata: MetadataStore = request.app.state.metadata
    found = await run_in_threadpool(known_names, metadata, request.app.state.series)
    return json_response(found)


@router.put(
    "",
    summary="Validate and apply a monitors-as-code document (JSON of mlpulse.yaml)",
    openapi_extra={**body_schema(Config, msgpack=False), **response_schema(ApplyResult)},
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def put_config(request: Request) -> Response:
    metadata: MetadataStore = request.app.state.metadata
    clock: Clock = request.app.state.clock
    body = await read_body(request, 4 * 1024 * 1024)
    check_json_depth(body)
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedBodyError(f"body is not valid JSON: {exc}") from exc
    # JSON carries times as text; the YAML reader, numbers too.
    config, problems = decode_config(raw, strict=False, check_settings=settings_problems)
    if problems:
        listed = "; ".join(str(p) for p in problems)
        raise InvalidInputError(f"{len(problems)} problem(s): {listed}", field=problems[0].path)
    before = await run_in_threadpool(applied, metadata) or Config(version=1)
    now = clock.now()
    await run_in_threadpool(
        lambda: metadata.apply_config(msgspec.json.encode(config).decode(), now=now)
    )
    # The schema overrides the file declares take effect for inference at once.
    for name, model in config.models.items():
        if model.schema:
            kinds = {column: ColumnKind(kind) for column, kind in model.schema.items()}
            await run_in_threadpool(metadata.set_schema_overrides, name, kinds)
    changes = plan(before, config)
    known = await run_in_threadpool(known_names, metadata, request.app.state.series)
    found = config_warnings(config, seen=seen(known))
    warnings = [ConfigWarning(w.path, w.message) for w in found]
    return json_response(ApplyResult(now, list(changes.changes), changes.render(), warnings))
