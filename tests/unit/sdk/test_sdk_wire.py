"""Buffered events to the wire batch: column blocks for predictions, rows for the rest."""

from __future__ import annotations

import msgspec

from mlpulse.domain.blocks import block_rows
from mlpulse.domain.events import Batch, Label, Prediction, Resource
from mlpulse.sdk.wire import LABEL, PREDICTION, RESOURCE, BatchEncoder, to_batch, to_event


def prediction(
    request_id: str, features: object, *, model: object = "fraud", version: str = "v3"
) -> tuple[object, ...]:
    # The hot path's tuple layout (see mlpulse.sdk.wire).
    return (PREDICTION, model, version, request_id, features, 1, 1767225600.0, 0.5,
            None, 2.0, None, None, None)  # fmt: skip


def test_to_batch_makes_one_block_per_model_version_in_order() -> None:
    items = [
        prediction("a", {"x": 1.0, "c": "DE"}),
        prediction("b", {"x": 2.0, "c": "FR"}, version="v4"),
        prediction("c", {"c": "IT", "x": 3.0}),  # same names, another order
        (LABEL, "fraud", "a", 1, None, 1767225700.0),
    ]
    batch = to_batch("b-1", items)

    assert batch.events == [to_event(items[3])]
    v3, v4 = batch.predictions
    assert (v3.model, v3.version, v3.request_id) == ("fraud", "v3", ["a", "c"])
    assert v3.features == {"x": [1.0, 3.0], "c": ["DE", "IT"]}
    assert v3.score == [0.5, 0.5] and v3.latency_ms == [2.0, 2.0]
    assert v3.probabilities is None and v3.error is None  # all-null columns are left out
    assert v4.request_id == ["b"]


def test_to_batch_puts_null_where_a_row_lacks_a_feature() -> None:
    items = [prediction("a", {"x": 1.0, "y": 2.0}), prediction("b", {"x": 3.0, "z": "k"})]
    (block,) = to_batch("b-1", items).predictions
    assert block.features == {"x": [1.0, 3.0], "y": [2.0, None], "z": [None, "k"]}


def test_to_batch_sends_odd_predictions_as_rows_for_the_collector_to_judge() -> None:
    items = [prediction("a", None), prediction("b", {"x": 1.0}, model=7)]
    batch = to_batch("b-1", items)
    assert batch.predictions == []
    assert [e.request_id for e in batch.events if isinstance(e, Prediction)] == ["a", "b"]


def test_encoded_batch_decodes_as_the_wire_schema_with_the_same_rows() -> None:
    items = [prediction(str(i), {"x": float(i), "c": "DE"}) for i in range(5)]
    items.append((LABEL, "fraud", "0", 1, "v3", 1767225700.0))
    payload, unencodable = BatchEncoder(compression=None).encode("b-1", items)

    assert payload is not None and not unencodable
    decoded = msgspec.msgpack.decode(payload.body, type=Batch)
    assert decoded.batch_id == "b-1"
    assert decoded.events == [Label(model="fraud", request_id="0", label=1, version="v3",
                                    timestamp=1767225700.0)]  # fmt: skip
    rows = [
        msgspec.convert(row, Prediction)
        for row in block_rows(msgspec.to_builtins(decoded.predictions[0]))
    ]
    assert rows == [to_event(item) for item in items[:5]]


def test_encoder_leaves_out_only_the_events_it_cannot_encode() -> None:
    items = [prediction("a", {"x": 1.0}), prediction("b", {"x": object()}),
             prediction("c", {"x": 2**70})]  # fmt: skip
    payload, unencodable = BatchEncoder(compression=None).encode("b-1", items)

    assert payload is not None
    assert [item[3] for item in payload.items] == ["a"]
    assert [u.item[3] for u in unencodable] == ["b", "c"]
    assert "object" in unencodable[0].reason


def test_resource_samples_go_as_rows_and_decode_as_the_wire_schema() -> None:
    sample = (RESOURCE, "fraud", "v3", "web-1", 42, 1767225600.0, 150.0, 512.0, 6.5,
              [87.0], [1024.0])  # fmt: skip
    items = [prediction("a", {"x": 1.0}), sample]
    payload, unencodable = BatchEncoder(compression=None).encode("b-1", items)

    assert payload is not None and not unencodable
    decoded = msgspec.msgpack.decode(payload.body, type=Batch)
    assert decoded.events == [
        Resource(
            model="fraud",
            version="v3",
            host="web-1",
            pid=42,
            timestamp=1767225600.0,
            cpu_percent=150.0,
            memory_rss_mb=512.0,
            memory_percent=6.5,
            gpu_utilization=[87.0],
            gpu_memory_used_mb=[1024.0],
        )
    ]
    assert len(decoded.predictions) == 1
