"""``POST /v1/ingest`` against bad input, over real HTTP to a collector process.

Every kind of bad input gets the answer a client can act on: the status code, the
error type, and a message or field that names the problem. Events are judged one
by one, so a batch with some invalid events still stores the valid ones and lists
each invalid one with its index, field and reason. And no input at all makes the
collector answer 500 or fall over.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    from tests.conftest import RunningCollector

JSON = "application/json"
MSGPACK = "application/msgpack"
LIMIT = 256 * 1024  # MLPULSE_MAX_BODY_BYTES of the shared collector
JAN_1_2026 = 1767225600.0  # 2026-01-01T00:00:00Z


# -- helpers -----------------------------------------------------------------------------------


def unique(name: str) -> str:
    """A model name no other test uses (the shared collector keeps every test's data)."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def prediction(model: str, request_id: str = "r1", **fields: Any) -> dict[str, Any]:
    return {
        "kind": "prediction",
        "model": model,
        "version": "v1",
        "request_id": request_id,
        **fields,
    }


def without(event: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != name}


def post(
    collector: RunningCollector,
    body: bytes | Iterator[bytes],
    content_type: str | None = JSON,
    **headers: str,
) -> httpx.Response:
    sent = collector.headers(collector.ingest_key)
    if content_type is not None:
        sent["Content-Type"] = content_type
    sent.update({name.replace("_", "-"): value for name, value in headers.items()})
    return httpx.post(f"{collector.url}/v1/ingest", content=body, headers=sent, timeout=30.0)


def post_json(collector: RunningCollector, batch: Any) -> httpx.Response:
    return post(collector, json.dumps(batch).encode())


def post_msgpack(collector: RunningCollector, batch: Any) -> httpx.Response:
    return post(collector, msgspec.msgpack.encode(batch), MSGPACK)


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    return error


def summary_count(
    collector: RunningCollector, model: str, *, window: str = "1d", end: float | None = None
) -> int:
    """Predictions of ``model`` (all versions) the collector reports over a window."""
    params: dict[str, str | float] = {"window": window}
    if end is not None:
        params["end"] = end
    response = httpx.get(
        f"{collector.url}/v1/models/{model}/summary",
        params=params,
        headers=collector.headers(collector.read_key),
    )
    assert response.status_code == 200, response.text
    return sum(int(v["count"]) for v in response.json()["versions"])


# -- bodies that do not parse ------------------------------------------------------------------

_VALID_BATCH = {"events": [prediction("never-stored")]}
_VALID_JSON = json.dumps(_VALID_BATCH).encode()
_VALID_MSGPACK = msgspec.msgpack.encode(_VALID_BATCH)


@pytest.mark.parametrize(
    ("body", "content_type", "byte"),
    [
        pytest.param(b'{"events": [}', JSON, 12, id="json-invalid-character"),
        pytest.param(_VALID_JSON[:-7], JSON, len(_VALID_JSON) - 7, id="json-truncated"),
        pytest.param(b"", JSON, 0, id="json-empty"),
        pytest.param(b"\xc1\x00", MSGPACK, 0, id="msgpack-invalid-opcode"),
        pytest.param(_VALID_MSGPACK[:-5], MSGPACK, len(_VALID_MSGPACK) - 5, id="msgpack-truncated"),
    ],
)
def test_ingest_answers_400_with_the_byte_position_when_body_does_not_parse(
    shared_collector: RunningCollector, body: bytes, content_type: str, byte: int
) -> None:
    response = post(shared_collector, body, content_type)

    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "malformed_body"
    assert error["field"] == "body"
    assert ("JSON" if content_type == JSON else "MessagePack") in error["message"]
    assert f"byte {byte}" in error["message"]


# -- size limit and compression ----------------------------------------------------------------


def _padded_json(size: int) -> bytes:
    """A syntactically valid empty batch of about ``size`` bytes (whitespace padding)."""
    return b'{"events": []' + b" " * size + b"}"


def test_ingest_answers_413_when_content_length_is_over_the_limit(
    shared_collector: RunningCollector,
) -> None:
    body = _padded_json(LIMIT + 1)

    response = post(shared_collector, body)

    assert response.status_code == 413
    error = error_of(response)
    assert error["type"] == "payload_too_large"
    assert str(LIMIT) in error["message"]
    assert str(len(body)) in error["message"]


def test_ingest_answers_413_when_chunked_body_grows_over_the_limit(
    shared_collector: RunningCollector,
) -> None:
    """No Content-Length to check up front: the limit holds while the body streams in."""
    body = _padded_json(LIMIT + 1)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 16 * 1024):
            yield body[start : start + 16 * 1024]

    response = post(shared_collector, chunks())

    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    error = error_of(response)
    assert error["type"] == "payload_too_large"
    assert str(LIMIT) in error["message"]


def test_ingest_answers_413_when_gzip_body_inflates_over_the_limit(
    shared_collector: RunningCollector,
) -> None:
    body = gzip.compress(_padded_json(4 * LIMIT))
    assert len(body) < LIMIT  # the compressed body itself is small

    response = post(shared_collector, body, content_encoding="gzip")

    assert response.status_code == 413
    error = error_of(response)
    assert error["type"] == "payload_too_large"
    assert "decompressed" in error["message"]
    assert str(LIMIT) in error["message"]


def test_ingest_accepts_gzip_body_when_inflated_size_is_under_the_limit(
    shared_collector: RunningCollector,
) -> None:
    model = unique("gzip-ok")
    batch = {"events": [prediction(model, f"r{i}") for i in range(3)]}

    response = post(
        shared_collector, gzip.compress(json.dumps(batch).encode()), content_encoding="gzip"
    )

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3


def test_ingest_answers_400_when_gzip_is_invalid(shared_collector: RunningCollector) -> None:
    response = post(shared_collector, _VALID_JSON, content_encoding="gzip")

    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "malformed_body"
    assert "gzip" in error["message"]


# -- media types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        ("text/plain", "text/plain"),
        ("application/xml", "application/xml"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        (None, "none"),
    ],
)
def test_ingest_answers_415_naming_content_type_when_it_is_unsupported(
    shared_collector: RunningCollector, content_type: str | None, named: str
) -> None:
    response = post(shared_collector, _VALID_JSON, content_type)

    assert response.status_code == 415
    error = error_of(response)
    assert error["type"] == "unsupported_media_type"
    assert error["field"] == "Content-Type"
    assert named in error["message"]


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress"])
def test_ingest_answers_415_naming_content_encoding_when_it_is_unsupported(
    shared_collector: RunningCollector, encoding: str
) -> None:
    response = post(shared_collector, _VALID_JSON, content_encoding=encoding)

    assert response.status_code == 415
    error = error_of(response)
    assert error["type"] == "unsupported_media_type"
    assert error["field"] == "Content-Encoding"
    assert encoding in error["message"]


# -- the shape of the batch --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"events": 5}, "events", id="events-not-a-list"),
        pytest.param({"events": [], "extra": 1}, "extra", id="unknown-top-level-field"),
        pytest.param([], "body", id="array-not-object"),
        pytest.param({"events": [], "batch_id": 7}, "batch_id", id="batch-id-not-a-string"),
        pytest.param({"events": [], "batch_id": ""}, "batch_id", id="batch-id-empty"),
    ],
)
def test_ingest_answers_422_naming_the_field_when_batch_shape_is_wrong(
    shared_collector: RunningCollector, body: Any, field: str
) -> None:
    for response in (post_json(shared_collector, body), post_msgpack(shared_collector, body)):
        assert response.status_code == 422, response.text
        error = error_of(response)
        assert error["type"] == "invalid_input"
        assert error["field"] == field
        assert field in error["message"]


# -- invalid events next to valid ones ---------------------------------------------------------

_M = "per-event"  # placeholder model; each test run replaces it with a unique name


def _label(**fields: Any) -> dict[str, Any]:
    return {"kind": "label", "model": _M, "request_id": "r1", "label": 1, **fields}


def _outcome(**fields: Any) -> dict[str, Any]:
    return {"kind": "outcome", "name": "purchase", "value": 9.99, **fields}


# (invalid event, the field after "events[1].", a fragment of the reason)
_INVALID_EVENTS = {
    "latency-wrong-type": (prediction(_M, latency_ms="fast"), "latency_ms", "got `str`"),
    "score-wrong-type": (prediction(_M, score=[1]), "score", "got `array`"),
    "model-wrong-type": (prediction(_M) | {"model": 5}, "model", "got `int`"),
    "features-wrong-type": (prediction(_M, features=[1, 2]), "features", "got `array`"),
    "missing-model": (without(prediction(_M), "model"), "model", "required field is missing"),
    "missing-version": (without(prediction(_M), "version"), "version", "required"),
    "missing-request-id": (without(prediction(_M), "request_id"), "request_id", "required"),
    "missing-kind": (without(prediction(_M), "kind"), "kind", "required field is missing"),
    "missing-label": (without(_label(), "label"), "label", "required field is missing"),
    "missing-outcome-name": (without(_outcome(), "name"), "name", "required field is missing"),
    "unknown-kind": (prediction(_M) | {"kind": "click"}, "kind", "unknown event kind 'click'"),
    "unknown-field": (prediction(_M, colour="red"), "colour", "unknown field"),
    "unknown-field-in-label": (_label(colour="red"), "colour", "unknown field"),
    "model-too-long": (prediction(_M) | {"model": "m" * 201}, "model", "length <= 200"),
    "request-id-too-long": (prediction(_M, "r" * 201), "request_id", "length <= 200"),
    "feature-string-too-long": (
        prediction(_M, features={"note": "x" * 10_001}),
        "features.note",
        "length <= 10000",
    ),
    "negative-latency": (prediction(_M, latency_ms=-1.5), "latency_ms", ">= 0"),
    "probability-over-1": (
        prediction(_M, probabilities={"fraud": 1.2}),
        "probabilities.fraud",
        "<= 1",
    ),
    "timestamp-in-milliseconds": (
        prediction(_M, timestamp=JAN_1_2026 * 1000),
        "timestamp",
        "< 100000000000",
    ),
    "timestamp-not-a-date": (prediction(_M, timestamp="yesterday"), "timestamp", "datetime"),
    "negative-timestamp": (prediction(_M, timestamp=-5.0), "timestamp", "> 0"),
}


def _with_model(value: Any, model: str) -> Any:
    """``value`` with the placeholder model name replaced (recursively)."""
    if isinstance(value, dict):
        return {k: model if v == _M else _with_model(v, model) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("event", "field", "reason"),
    list(_INVALID_EVENTS.values()),
    ids=list(_INVALID_EVENTS),
)
def test_ingest_rejects_only_the_invalid_event_when_batch_mixes_valid_and_invalid(
    shared_collector: RunningCollector, event: dict[str, Any], field: str, reason: str
) -> None:
    model = unique("mixed")
    batch = {
        "events": [
            prediction(model, "ok-0"),
            _with_model(event, model),
            prediction(model, "ok-2"),
        ]
    }

    response = post_json(shared_collector, batch)

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 2
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [(1, f"events[1].{field}")]
    assert reason in result["rejected"][0]["reason"]
    assert summary_count(shared_collector, model) == 2


def test_ingest_lists_each_invalid_event_by_its_index_when_several_are_invalid(
    shared_collector: RunningCollector,
) -> None:
    model = unique("indices")
    events = [prediction(model, f"r{i}", latency_ms=float(i)) for i in range(6)]
    events[1]["latency_ms"] = "slow"
    events[3]["latency_ms"] = -3.0
    del events[4]["request_id"]

    response = post_json(shared_collector, {"events": events})

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 3
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [
        (1, "events[1].latency_ms"),
        (3, "events[3].latency_ms"),
        (4, "events[4].request_id"),
    ]
    assert "'slow'" in result["rejected"][0]["reason"]
    assert "-3.0" in result["rejected"][1]["reason"]
    assert summary_count(shared_collector, model) == 3


# -- non-finite numbers (only MessagePack can carry them) --------------------------------------

_NON_FINITE = {
    "score-nan": (prediction(_M, score=math.nan), "score"),
    "score-inf": (prediction(_M, score=math.inf), "score"),
    "latency-inf": (prediction(_M, latency_ms=math.inf), "latency_ms"),
    "latency-nan": (prediction(_M, latency_ms=math.nan), "latency_ms"),
    "timestamp-minus-inf": (prediction(_M, timestamp=-math.inf), "timestamp"),
    "timestamp-nan": (prediction(_M, timestamp=math.nan), "timestamp"),
    "outcome-value-nan": (_outcome(value=math.nan), "value"),
    "outcome-value-minus-inf": (_outcome(value=-math.inf), "value"),
    "label-nan": (_label(label=math.nan), "label"),
    "label-inf": (_label(label=math.inf), "label"),
    "prediction-nan": (prediction(_M, prediction=math.nan), "prediction"),
    "probability-nan": (prediction(_M, probabilities={"fraud": math.nan}), "probabilities.fraud"),
}


@pytest.mark.parametrize(("event", "field"), list(_NON_FINITE.values()), ids=list(_NON_FINITE))
def test_ingest_rejects_event_saying_finite_when_a_number_is_nan_or_inf(
    shared_collector: RunningCollector, event: dict[str, Any], field: str
) -> None:
    model = unique("non-finite")
    batch = {"events": [prediction(model, "ok"), _with_model(event, model)]}

    response = post_msgpack(shared_collector, batch)

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 1
    assert len(result["rejected"]) == 1
    rejection = result["rejected"][0]
    assert rejection["index"] == 1
    assert rejection["field"] == f"events[1].{field}"
    assert "finite" in rejection["reason"]


def test_ingest_stores_nan_and_inf_feature_values_as_missing(
    shared_collector: RunningCollector,
) -> None:
    model = unique("nan-feature")
    events = [
        prediction(model, "r0", features={"amount": math.nan, "country": "DE"}),
        prediction(model, "r1", features={"amount": math.inf}),
        prediction(model, "r2", features={"amount": -math.inf, "age": math.nan}),
        prediction(model, "r3", features={"amount": 12.5}),
    ]

    response = post_msgpack(shared_collector, {"events": events})

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 4
    assert response.json()["rejected"] == []
    assert summary_count(shared_collector, model) == 4


# -- whole-batch outcomes ----------------------------------------------------------------------


def test_ingest_answers_422_with_every_rejection_when_no_event_is_valid(
    shared_collector: RunningCollector,
) -> None:
    model = unique("all-invalid")
    events = [prediction(model, latency_ms=-1.0), without(prediction(model), "version")]

    response = post_json(shared_collector, {"events": events})

    assert response.status_code == 422
    result = response.json()
    assert result["accepted"] == 0
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [
        (0, "events[0].latency_ms"),
        (1, "events[1].version"),
    ]
    assert all(r["reason"] for r in result["rejected"])


def test_ingest_answers_200_accepting_nothing_when_events_list_is_empty(
    shared_collector: RunningCollector,
) -> None:
    for response in (
        post_json(shared_collector, {"events": []}),
        post_msgpack(shared_collector, {"events": []}),
    ):
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["accepted"] == 0
        assert result["rejected"] == []
        assert result["duplicate"] is False


def test_ingest_stores_a_retried_batch_once_and_says_duplicate(
    shared_collector: RunningCollector,
) -> None:
    model = unique("retry")
    batch_id = f"b-{uuid.uuid4().hex}"
    events = [prediction(model, f"r{i}", latency_ms=2.0) for i in range(3)]
    batch = {"batch_id": batch_id, "events": [*events, prediction(model, latency_ms=-1.0)]}

    first = post_json(shared_collector, batch)
    second = post_json(shared_collector, batch)

    assert first.status_code == second.status_code == 200
    assert first.json()["duplicate"] is False
    assert second.json()["duplicate"] is True
    for result in (first.json(), second.json()):
        assert result["batch_id"] == batch_id
        assert result["accepted"] == 3
        assert [r["field"] for r in result["rejected"]] == ["events[3].latency_ms"]
    assert summary_count(shared_collector, model) == 3


# -- accepted forms ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp",
    ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00", "2025-12-31T19:00:00-05:00"],
)
def test_ingest_accepts_iso_8601_timestamps_in_json(
    shared_collector: RunningCollector, timestamp: str
) -> None:
    model = unique("iso")
    batch = {"events": [prediction(model, timestamp=timestamp)]}

    response = post_json(shared_collector, batch)

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    # Stored at 2026-01-01T00:00:00Z whatever the offset it was written with.
    assert summary_count(shared_collector, model, window="2s", end=JAN_1_2026 + 1) == 1


def test_ingest_rejects_iso_8601_timestamp_when_it_has_no_time_zone(
    shared_collector: RunningCollector,
) -> None:
    """The wire schema takes ISO-8601 strings *with a time zone*; a naive one is ambiguous.

    Read in the collector's local time zone it would be stored hours off on any host
    not set to UTC, and silently so.
    """
    model = unique("naive")
    batch = {
        "events": [prediction(model, "ok"), prediction(model, timestamp="2026-01-01T00:00:00")]
    }

    response = post_json(shared_collector, batch)

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 1
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [(1, "events[1].timestamp")]


@pytest.mark.parametrize(
    "content_type",
    [
        JSON,
        "application/json; charset=utf-8",
        MSGPACK,
        "application/x-msgpack",
        "application/vnd.msgpack",
    ],
)
def test_ingest_accepts_every_event_kind_when_body_is_json_or_msgpack(
    shared_collector: RunningCollector, content_type: str
) -> None:
    model = unique("formats")
    batch = {
        "events": [
            prediction(
                model,
                "r1",
                timestamp=JAN_1_2026,
                features={"amount": 12.5, "country": "DE", "new": True, "gone": None},
                prediction=1,
                score=0.9,
                probabilities={"fraud": 0.9, "ok": 0.1},
                latency_ms=3.5,
                segment={"region": "eu"},
                trace_id="t1",
            ),
            {"kind": "label", "model": model, "request_id": "r1", "label": 1, "version": "v1"},
            {"kind": "outcome", "name": "purchase", "value": 19.99, "model": model},
        ]
    }
    body = (
        msgspec.msgpack.encode(batch) if "msgpack" in content_type else json.dumps(batch).encode()
    )

    response = post(shared_collector, body, content_type)

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    assert response.json()["rejected"] == []
    assert summary_count(shared_collector, model, window="2s", end=JAN_1_2026 + 1) == 1


# -- no input makes the collector answer 500 ---------------------------------------------------

_text = st.text(max_size=30)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | _text
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)
_names = st.sampled_from(["fuzz", "v1", "r1"]) | _values
_event_fields = {
    name: _names if name in ("model", "version", "request_id", "name") else _values
    for name in (
        "model", "version", "request_id", "features", "prediction", "timestamp", "score",
        "probabilities", "latency_ms", "segment", "trace_id", "error", "label", "name", "value",
        "unit_id",
    )
}  # fmt: skip
_events = st.fixed_dictionaries(
    {"kind": st.sampled_from(["prediction", "label", "outcome"]) | _values},
    optional=_event_fields,
)
# Valid events with up to two fields set to anything: these reach the store.
_VALID_EVENTS = (
    prediction("fuzz", features={"amount": 1.0}, latency_ms=2.0),
    {"kind": "label", "model": "fuzz", "request_id": "r1", "label": 1},
    {"kind": "outcome", "name": "purchase", "model": "fuzz"},
)
_nearly_valid_events = st.builds(
    lambda base, changes: {**base, **changes},
    st.sampled_from(_VALID_EVENTS),
    st.dictionaries(st.sampled_from(sorted(_event_fields)), _values, max_size=2)
    | st.fixed_dictionaries({"features": st.dictionaries(_text, _scalars, max_size=4)}),
)
# Predictions may also come as column blocks: a valid block with up to two columns
# replaced by anything (lists of the wrong length, wrong types, non-finite numbers).
_BLOCK_COLUMNS = ["request_id", "features", "prediction", "timestamp", "score", "latency_ms"]
_nearly_valid_blocks = st.builds(
    lambda changes: {
        "model": "fuzz",
        "version": "v1",
        "request_id": ["b1", "b2"],
        "latency_ms": [1.0, 2.0],
        "features": {"amount": [1.0, None]},
        **changes,
    },
    st.dictionaries(
        st.sampled_from(_BLOCK_COLUMNS), st.lists(_scalars, max_size=3) | _values, max_size=2
    ),
)
_batches = st.fixed_dictionaries(
    {"events": st.lists(_nearly_valid_events | _events, max_size=4)},
    optional={
        "batch_id": st.uuids().map(str),
        "predictions": st.lists(_nearly_valid_blocks, max_size=2),
    },
)
_odd_batches = st.fixed_dictionaries(
    {"events": _values},
    optional={"batch_id": _values, "predictions": _values, "extra": _values},
)
_inputs = _batches | _odd_batches | _values | st.binary(max_size=300)

_ACCEPTABLE = {200, 400, 413, 415, 422}


def _encodings(value: Any) -> Iterator[tuple[bytes, str]]:
    """``value`` as a JSON and a MessagePack body (raw bytes are sent as both)."""
    if isinstance(value, bytes):
        yield value, JSON
        yield value, MSGPACK
        return
    # Not ASCII-escaped: lone surrogates become invalid UTF-8, NaN becomes a bare NaN token.
    yield json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"), JSON
    with contextlib.suppress(UnicodeEncodeError):  # a lone surrogate has no MessagePack form
        yield msgspec.msgpack.encode(value), MSGPACK


def test_ingest_never_answers_500_whatever_the_body(shared_collector: RunningCollector) -> None:
    with httpx.Client(
        base_url=shared_collector.url,
        headers=shared_collector.headers(shared_collector.ingest_key),
        timeout=30.0,
    ) as http:

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(value=_inputs)
        def post_anything(value: Any) -> None:
            for body, content_type in _encodings(value):
                response = http.post(
                    "/v1/ingest", content=body, headers={"Content-Type": content_type}
                )

                assert response.status_code in _ACCEPTABLE, (content_type, body, response.text)
                payload = response.json()
                if response.status_code in (200, 422) and "error" not in payload:
                    assert isinstance(payload["accepted"], int)
                else:
                    assert payload["error"]["type"]

        post_anything()

        assert http.get("/healthz").status_code == 200
        assert http.get("/readyz").status_code == 200
    model = unique("after-fuzz")
    response = post_json(shared_collector, {"events": [prediction(model)]})
    assert response.status_code == 200
    assert summary_count(shared_collector, model) == 1
