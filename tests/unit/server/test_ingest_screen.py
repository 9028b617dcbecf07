"""The checks after decoding: printable names and the limits on models and features."""

from __future__ import annotations

import msgspec

from mlpulse.domain.events import Prediction
from mlpulse.domain.names import PrintableNames
from mlpulse.server.ingest.decode import DecodedBatch, decode_batch, media_format
from mlpulse.server.ingest.screen import screen
from mlpulse.services.ingest import SchemaTracker
from mlpulse.testing.fakes import InMemoryMetadataStore

JSON = media_format("application/json")


def _tracker(*, max_models: int = 10, max_features: int = 5) -> SchemaTracker:
    return SchemaTracker(
        InMemoryMetadataStore(), versions=set(), columns={}, max_models=max_models,
        max_features=max_features,
    )  # fmt: skip


def _screen(body: object, tracker: SchemaTracker | None = None) -> DecodedBatch:
    tracker = tracker or _tracker()
    return screen(decode_batch(msgspec.json.encode(body), JSON), PrintableNames(), tracker)


def _row(model: str = "m", **fields: object) -> dict[str, object]:
    return {"kind": "prediction", "model": model, "version": "v1", "request_id": "r", **fields}


def _block(model: str, n: int, features: dict[str, list[object]]) -> dict[str, object]:
    return {"model": model, "version": "v1", "request_id": [f"r{i}" for i in range(n)],
            "features": features}  # fmt: skip


def test_screen_refuses_a_feature_name_with_a_nul_byte_naming_the_field() -> None:
    decoded = _screen({"events": [_row(features={"a\x00b": 1.0}), _row(features={"ok": 2.0})]})
    assert len(decoded.events) == 1
    (rejection,) = decoded.rejected
    assert (rejection.index, rejection.field) == (0, "events[0].features.a\x00b")
    assert "control characters" in rejection.reason and "U+0000" in rejection.reason


def test_screen_refuses_every_row_of_a_block_whose_model_has_a_control_character() -> None:
    decoded = _screen(
        {"events": [_row()], "predictions": [_block("bad\x07", 3, {}), _block("good", 2, {})]}
    )
    assert [b.model for b in decoded.blocks] == ["good"]
    assert [(r.index, r.field) for r in decoded.rejected] == [
        (1, "predictions[0].model"), (2, "predictions[0].model"), (3, "predictions[0].model"),
    ]  # fmt: skip
    assert list(decoded.block_places[0][1]) == [4, 5]


def test_screen_refuses_control_characters_in_outcome_and_segment_names() -> None:
    decoded = _screen(
        {"events": [
            {"kind": "outcome", "name": "buy\n"},
            _row(segment={"country": "D\x1bE"}),
            {"kind": "label", "model": "m", "version": "\x7f", "request_id": "r", "label": 1},
        ]}
    )  # fmt: skip
    assert decoded.events == []
    assert [r.field for r in decoded.rejected] == [
        "events[0].name", "events[1].segment", "events[2].version",
    ]  # fmt: skip


def test_screen_accepts_any_printable_name_slash_and_unicode_included() -> None:
    decoded = _screen({"events": [_row("team/fraud", features={"prix €": 1.0, "ü/x": "a"})]})
    assert decoded.rejected == [] and len(decoded.events) == 1


def test_screen_counts_a_models_feature_names_across_batches() -> None:
    tracker = _tracker(max_features=5)
    first = _screen(
        {"predictions": [_block("m", 2, {f"f{i}": [1.0, 2.0] for i in range(4)})]}, tracker
    )
    assert first.rejected == []
    # Two known names and two new ones: 6 names, one beyond the limit.
    second = _screen(
        {
            "predictions": [
                _block("m", 2, {"f0": [1.0, 1.0], "f1": [1.0, 1.0], "g": [0, 0], "h": [0, 0]})
            ]
        },
        tracker,
    )
    assert second.blocks == []
    assert {r.field for r in second.rejected} == {"predictions[0].features"}
    assert "6 distinct feature names; the limit is 5 per model" in second.rejected[0].reason
    # Known names and one new: still within.
    third = _screen({"events": [_row(features={"f0": 1.0, "g": 2.0})]}, tracker)
    assert third.rejected == [] and len(third.events) == 1


def test_screen_refuses_a_block_wider_than_the_limit_by_itself() -> None:
    decoded = _screen({"predictions": [_block("wide", 1, {f"f{i}": [1.0] for i in range(6)})]})
    assert decoded.blocks == [] and decoded.rejected[0].field == "predictions[0].features"


def test_screen_refuses_models_beyond_the_limit_and_keeps_known_ones() -> None:
    tracker = _tracker(max_models=3)
    blocks = [_block(f"m{i}", 1, {"x": [1.0]}) for i in range(5)]
    decoded = _screen({"predictions": blocks}, tracker)
    assert [b.model for b in decoded.blocks] == ["m0", "m1", "m2"]
    assert [r.field for r in decoded.rejected] == ["predictions[3].model", "predictions[4].model"]
    assert "at most 3 models (limit: models)" in decoded.rejected[0].reason
    again = _screen({"events": [_row("m1"), _row("m9")]}, tracker)
    assert [e.model for e in again.events if isinstance(e, Prediction)] == ["m1"]
    assert again.rejected[0].field == "events[1].model"


def test_screen_keeps_positions_of_events_after_a_decoding_rejection() -> None:
    decoded = _screen({"events": [_row(latency_ms=-1), _row(features={"\x00": 1.0})]})
    assert [r.index for r in decoded.rejected] == [0, 1]
    assert decoded.rejected[1].field == "events[1].features.\x00"
