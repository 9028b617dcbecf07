"""Body decoding: the fast path, the per-event fallback, and the reasons it gives."""

from __future__ import annotations

import gzip
import math

import msgspec
import pytest

from mlpulse.domain.events import Label, Outcome, Prediction, Resource
from mlpulse.errors import (
    InvalidInputError,
    MalformedBodyError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from mlpulse.server.ingest.decode import decode_batch, decompress, media_format

JSON = media_format("application/json")
MSGPACK = media_format("application/msgpack")


def _prediction(**fields: object) -> dict[str, object]:
    return {"kind": "prediction", "model": "m", "version": "v1", "request_id": "r", **fields}


def test_decode_batch_reads_every_kind_in_one_batch() -> None:
    body = msgspec.json.encode(
        {
            "batch_id": "b1",
            "events": [
                _prediction(features={"a": 1.0, "c": "x", "f": True, "n": None}, score=0.5),
                {"kind": "label", "model": "m", "request_id": "r", "label": 1},
                {"kind": "outcome", "name": "click"},
            ],
        }
    )
    decoded = decode_batch(body, JSON)
    assert decoded.batch_id == "b1"
    assert [type(e) for e in decoded.events] == [Prediction, Label, Outcome]
    assert decoded.rejected == []


def test_decode_batch_keeps_valid_events_and_names_each_bad_field() -> None:
    body = msgspec.json.encode(
        {"events": [_prediction(), _prediction(latency_ms="slow"), {"kind": "mystery"}]}
    )
    decoded = decode_batch(body, JSON)
    assert len(decoded.events) == 1
    assert [(r.index, r.field) for r in decoded.rejected] == [
        (1, "events[1].latency_ms"),
        (2, "events[2].kind"),
    ]
    assert "'slow'" in decoded.rejected[0].reason
    assert "mystery" in decoded.rejected[1].reason


def test_decode_batch_names_missing_and_unknown_fields() -> None:
    event = _prediction(colour="red")
    del event["version"]
    decoded = decode_batch(msgspec.json.encode({"events": [event]}), JSON)
    (rejection,) = decoded.rejected
    assert rejection.field in {"events[0].version", "events[0].colour"}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("field", ["score", "latency_ms", "timestamp"])
def test_decode_batch_rejects_non_finite_numbers(field: str, value: float) -> None:
    body = msgspec.msgpack.encode({"events": [_prediction(**{field: value})]})
    (rejection,) = decode_batch(body, MSGPACK).rejected
    assert rejection.field == f"events[0].{field}"
    assert "finite" in rejection.reason or "Expected" in rejection.reason


def test_decode_batch_accepts_nan_features_as_values_to_store_as_missing() -> None:
    body = msgspec.msgpack.encode({"events": [_prediction(features={"x": math.nan})]})
    decoded = decode_batch(body, MSGPACK)
    assert decoded.rejected == []


def test_decode_batch_rejects_timestamps_in_milliseconds() -> None:
    body = msgspec.json.encode({"events": [_prediction(timestamp=1_767_225_600_000)]})
    (rejection,) = decode_batch(body, JSON).rejected
    assert rejection.field == "events[0].timestamp"


def test_decode_batch_keeps_valid_resource_samples_and_names_each_bad_field() -> None:
    good = {"kind": "resource", "host": "web-1", "pid": 7, "cpu_percent": 12.0}
    body = msgspec.msgpack.encode(
        {
            "events": [
                good,
                {"kind": "resource", "memory_percent": 140.0},
                {"kind": "resource", "gpu_utilization": [10.0, math.nan]},
                {"kind": "resource", "pid": -3},
                {"kind": "resource", "cpu_percent": "high"},
            ]
        }
    )
    decoded = decode_batch(body, MSGPACK)
    assert decoded.events == [Resource(host="web-1", pid=7, cpu_percent=12.0)]
    assert [(r.index, r.field) for r in decoded.rejected] == [
        (1, "events[1].memory_percent"),
        (2, "events[2].gpu_utilization[1]"),
        (3, "events[3].pid"),
        (4, "events[4].cpu_percent"),
    ]
    reasons = [r.reason for r in decoded.rejected]
    assert "<= 100.0" in reasons[0] and "140.0" in reasons[0]
    assert "finite" in reasons[1]
    assert ">= 0" in reasons[2]
    assert "'high'" in reasons[3]


def test_decode_batch_lists_resource_among_the_event_kinds() -> None:
    body = msgspec.json.encode({"events": [{"kind": "cpu"}]})
    (rejection,) = decode_batch(body, JSON).rejected
    assert "resource" in rejection.reason


def test_decode_batch_reports_byte_position_of_malformed_json() -> None:
    with pytest.raises(MalformedBodyError, match="byte"):
        decode_batch(b'{"events": [}', JSON)
    with pytest.raises(MalformedBodyError, match="byte 12"):
        decode_batch(b'{"events": [', JSON)


def test_decode_batch_names_the_field_when_the_envelope_is_wrong() -> None:
    with pytest.raises(InvalidInputError) as info:
        decode_batch(b'{"events": 5}', JSON)
    assert info.value.field == "events"


def test_media_format_refuses_unknown_content_types() -> None:
    assert media_format("application/json; charset=utf-8") is JSON
    with pytest.raises(UnsupportedMediaTypeError):
        media_format("text/csv")
    with pytest.raises(UnsupportedMediaTypeError):
        media_format(None)


def test_decompress_inflates_gzip_and_refuses_bombs() -> None:
    assert decompress(gzip.compress(b"abc"), "gzip", limit=10) == b"abc"
    with pytest.raises(PayloadTooLargeError):
        decompress(gzip.compress(b"0" * 10_000), "gzip", limit=1_000)
    with pytest.raises(MalformedBodyError):
        decompress(b"not gzip", "gzip", limit=1_000)
    with pytest.raises(UnsupportedMediaTypeError):
        decompress(b"x", "br", limit=1_000)


def _block(**columns: object) -> dict[str, object]:
    return {"model": "m", "version": "v1", "request_id": ["a", "b", "c"], **columns}


def test_decode_batch_reads_column_blocks_after_rows() -> None:
    body = msgspec.msgpack.encode(
        {
            "events": [_prediction()],
            "predictions": [_block(features={"x": [1.0, None, 2.0]}, latency_ms=[1.0, 2.0, 3.0])],
        }
    )
    decoded = decode_batch(body, MSGPACK)
    (block,) = decoded.blocks
    assert block.request_id == ["a", "b", "c"]
    assert block.features == {"x": [1.0, None, 2.0]}
    assert len(decoded.events) == 1
    assert decoded.rejected == []


def test_decode_batch_keeps_the_valid_rows_of_a_block_and_names_the_bad_cell() -> None:
    body = msgspec.msgpack.encode(
        {
            "events": [_prediction()],
            "predictions": [
                _block(latency_ms=[1.0, math.nan, 3.0], features={"x": [1.0, 2.0, {"no": 1}]})
            ],
        }
    )
    decoded = decode_batch(body, MSGPACK)
    (block,) = decoded.blocks
    assert block.request_id == ["a"]
    assert [(r.index, r.field) for r in decoded.rejected] == [
        (2, "predictions[0].latency_ms[1]"),
        (3, "predictions[0].features.x[2]"),
    ]
    assert "finite" in decoded.rejected[0].reason


def test_decode_batch_rejects_every_row_of_a_block_whose_columns_do_not_line_up() -> None:
    for body in (
        msgspec.json.encode({"predictions": [_block(score=[0.1, 0.2])]}),
        msgspec.json.encode({"predictions": [_block(score=[0.1, 0.2], error=[None, "x", 5])]}),
    ):
        decoded = decode_batch(body, JSON)
        assert decoded.blocks == []
        assert [r.index for r in decoded.rejected] == [0, 1, 2]
        assert {r.field for r in decoded.rejected} == {"predictions[0].score"}
        assert "has 2 values; request_id has 3" in decoded.rejected[0].reason


def test_decode_batch_rejects_a_block_that_is_not_a_block() -> None:
    decoded = decode_batch(msgspec.json.encode({"predictions": [7]}), JSON)
    assert decoded.blocks == []
    assert [(r.index, r.field) for r in decoded.rejected] == [(0, "predictions[0]")]
