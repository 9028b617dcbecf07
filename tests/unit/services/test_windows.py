"""The window aggregator's slicing: the same profiles, built in pieces that step aside."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mlpulse.core.profiles.window import WindowProfile
from mlpulse.domain.events import Label, PredictionBlock
from mlpulse.domain.schema import ColumnKind
from mlpulse.domain.series import segment_key
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.errors import ParameterError
from mlpulse.services.windows import SLICE_BLOCKS, SLICE_VALUES, Pacer, block_profiles, paced

MINUTE_START = 1_800_000_000.0


def _wide_block(
    columns: int, rows: int, seed: int
) -> tuple[PredictionBlock, dict[str, ColumnKind]]:
    rng = np.random.default_rng(seed)
    features: dict[str, list[object]] = {}
    kinds: dict[str, ColumnKind] = {}
    for c in range(columns):
        if c % 3 == 2:
            features[f"c{c}"] = [str(v) if v else None for v in rng.integers(0, 5, rows)]
            kinds[f"c{c}"] = ColumnKind.CATEGORICAL
        else:
            values = rng.normal(size=rows)
            features[f"n{c}"] = [None if v > 1.5 else float(v) for v in values]
            kinds[f"n{c}"] = ColumnKind.NUMERIC
    block = PredictionBlock(
        model="m", version="v1", request_id=[f"r{i}" for i in range(rows)], features=features,
        timestamp=[MINUTE_START + 30.0 * (i % 3) for i in range(rows)],
        segment=[{"region": "eu" if i % 2 else "us"} for i in range(rows)],
        score=[float(v) for v in rng.random(rows)], latency_ms=[3.0] * rows,
        error=[None if i % 7 else "boom" for i in range(rows)],
        prediction=[int(v) for v in rng.integers(0, 2, rows)],
    )  # fmt: skip
    return block, kinds


def _whole(block: PredictionBlock, kinds: dict[str, ColumnKind], rows: list[int]) -> WindowProfile:
    """The profile of ``rows`` of ``block`` in one piece, as from_columns builds it."""

    def take(column: list[object] | None) -> list[object] | None:
        return None if column is None else [column[i] for i in rows]

    features = {
        name: np.array(take(values), dtype=np.float64 if kinds[name] == "numeric" else object)
        for name, values in block.features.items()
    }
    score, latency, errors = take(block.score), take(block.latency_ms), take(block.error)
    assert score is not None and latency is not None and errors is not None
    return WindowProfile.from_columns(
        features, kinds, prediction=take(block.prediction), score=np.array(score, dtype=float),
        latency_ms=np.array(latency, dtype=float), errors=[e is not None for e in errors],
        rows=len(rows),
    )  # fmt: skip


@pytest.mark.parametrize("columns", [4, 2000])
def test_block_profiles_equal_the_profile_built_in_one_piece_when_columns_are_sliced(
    columns: int,
) -> None:
    rows = 60
    block, kinds = _wide_block(columns, rows, seed=columns)
    pauses: list[float] = []
    profiles = block_profiles(
        block, kinds, received_at=MINUTE_START, pause=lambda: pauses.append(time.perf_counter())
    )
    groups: dict[tuple[str, float], list[int]] = {}
    for i in range(rows):
        minute = MINUTE_START + (60.0 if i % 3 == 2 else 0.0)
        groups.setdefault((segment_key({"region": "eu" if i % 2 else "us"}), minute), []).append(i)
    assert profiles.keys() == groups.keys()
    for key, profile in profiles.items():
        assert profile.to_bytes() == _whole(block, kinds, groups[key]).to_bytes()
    expected_pauses = sum(-(-columns // (SLICE_VALUES // len(g))) for g in groups.values())
    assert len(pauses) == expected_pauses
    assert columns < 100 or expected_pauses > len(groups)  # the wide block was sliced


def test_pacer_rests_only_after_a_slice_of_work() -> None:
    pacer = Pacer(slice_s=0.01, rest_s=0.0)
    pacer()
    assert pacer.rests == 0
    started = time.perf_counter()
    while time.perf_counter() - started < 0.012:
        pass
    pacer()
    assert pacer.rests == 1
    pacer()
    assert pacer.rests == 1


def test_pacer_refuses_a_slice_of_no_time() -> None:
    with pytest.raises(ParameterError, match="'slice_s' parameter of Pacer"):
        Pacer(slice_s=0.0)


def test_paced_listener_sees_every_block_in_order_and_the_other_events_once() -> None:
    blocks = [PredictionBlock(f"m{i}", "v1", [f"r{i}"]) for i in range(2 * SLICE_BLOCKS + 3)]
    labels = [Label("m0", "r0", 1.0)]
    batch = AcceptedBatch("b1", MINUTE_START, predictions=blocks, labels=labels)
    seen: list[AcceptedBatch] = []
    pauses: list[int] = []
    paced(seen.append, lambda: pauses.append(1))(batch)
    assert [len(part.predictions) for part in seen] == [SLICE_BLOCKS, SLICE_BLOCKS, 3]
    assert [b for part in seen for b in part.predictions] == blocks
    assert {part.batch_id for part in seen} == {"b1"}
    assert [part.labels for part in seen] == [labels, [], []]
    assert len(pauses) == 3


def test_paced_listener_gets_a_small_batch_as_it_is() -> None:
    batch = AcceptedBatch("b2", MINUTE_START, predictions=[PredictionBlock("m", "v1", ["r"])])
    seen: list[AcceptedBatch] = []
    paced(seen.append, lambda: None)(batch)
    assert seen == [batch] and seen[0] is batch


@pytest.mark.parametrize("declared", [ColumnKind.TEXT, ColumnKind.EMBEDDING, ColumnKind.DATETIME])
def test_block_profiles_leave_out_columns_declared_of_a_kind_profiles_do_not_hold(
    declared: ColumnKind,
) -> None:
    block, kinds = _wide_block(4, 30, seed=7)
    features = {**block.features, "note": ["x"] * 30}
    block = PredictionBlock(
        model=block.model, version=block.version, request_id=block.request_id,
        features=features, timestamp=block.timestamp, segment=block.segment,
        score=block.score, latency_ms=block.latency_ms, error=block.error,
        prediction=block.prediction,
    )  # fmt: skip
    profiles = block_profiles(block, {**kinds, "note": declared}, received_at=MINUTE_START)
    for profile in profiles.values():
        assert "note" not in profile.features
        assert set(profile.features) == set(kinds)
