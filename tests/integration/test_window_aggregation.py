"""Minute profiles: built as batches arrive, flushed, merged across collectors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.duckdb_series import DuckDBSeriesStore
from mlpulse.adapters.store.sqlite_profiles import SQLiteProfileStore
from mlpulse.core.profiles.window import WindowProfile
from mlpulse.domain.events import PredictionBlock
from mlpulse.domain.schema import ColumnKind
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.services.windows import WindowAggregator, merge_profiles

T0 = 1_767_225_600.0
KINDS = {"amount": ColumnKind.NUMERIC, "plan": ColumnKind.CATEGORICAL}


@pytest.fixture
def series(tmp_path: Path) -> Iterator[DuckDBSeriesStore]:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    yield DuckDBSeriesStore(store.connection(), SQLiteProfileStore(tmp_path / "profiles.sqlite"))
    store.close()


def _batch(name: str, rows: range, rng: np.random.Generator) -> AcceptedBatch:
    n = len(rows)
    block = PredictionBlock(
        model="fraud",
        version="v1",
        request_id=[f"{name}-{i}" for i in rows],
        features={
            "amount": rng.lognormal(3, 1, n).tolist(),
            "plan": rng.choice(["free", "pro"], n).tolist(),
        },
        score=rng.uniform(size=n).tolist(),
        latency_ms=rng.gamma(2, 5, n).tolist(),
        error=[("boom" if i % 17 == 0 else None) for i in rows],
        # Two minutes: T0 + [0, 60) and T0 + [60, 120); one segment tag with two values.
        timestamp=[T0 + (i % 120) for i in rows],
        segment=[{"mode": "batch" if i % 3 == 0 else "online"} for i in rows],
    )
    return AcceptedBatch(name, T0 + 130, predictions=[block])


def test_two_collectors_partial_minute_profiles_merge_to_the_profile_of_all_events(
    series: DuckDBSeriesStore,
) -> None:
    rng = np.random.default_rng(1)
    batches = [_batch(f"b{k}", range(k * 500, (k + 1) * 500), rng) for k in range(6)]
    a = WindowAggregator(series, writer="collector-a", kinds=lambda _: KINDS, grace_s=5)
    b = WindowAggregator(series, writer="collector-b", kinds=lambda _: KINDS, grace_s=5)
    single = WindowAggregator(series, writer="single", kinds=lambda _: KINDS)
    for k, batch in enumerate(batches):
        (a if k % 2 else b).add(batch)
        single.add(batch)
    assert a.flush(now=T0 + 60) == 0  # no minute is over (with its grace) yet
    assert a.flush(now=T0 + 200) == 4 and b.flush(now=T0 + 200) == 4  # 2 minutes × 2 segments
    rows = series.read_profiles("fraud", start=T0, end=T0 + 120)
    merged = merge_profiles(rows)
    expected = WindowProfile.empty()
    for profile in [WindowProfile.from_bytes(p.profile) for p in _flushed(single, series)]:
        expected = expected.merge(profile)
    assert {r.writer for r in rows} == {"collector-a", "collector-b"}
    assert (merged.requests, merged.errors) == (expected.requests, expected.errors) == (
        3000, sum(1 for i in range(3000) if i % 17 == 0),
    )  # fmt: skip
    assert merged.features["plan"].counts() == expected.features["plan"].counts()
    assert merged.features["amount"].mean == pytest.approx(expected.features["amount"].mean)
    assert merged.latency.count == 3000
    # Per minute and segment, too.
    one_minute = [r for r in rows if r.minute == T0 and '"batch"' in r.segment]
    assert merge_profiles(one_minute).requests == sum(
        1 for i in range(3000) if i % 120 < 60 and i % 3 == 0
    )


def _flushed(aggregator: WindowAggregator, series: DuckDBSeriesStore) -> list:  # type: ignore[type-arg]
    aggregator.flush()
    return [
        r for r in series.read_profiles("fraud", start=T0, end=T0 + 120) if r.writer == "single"
    ]


def test_events_after_a_minute_was_flushed_add_a_partial_row(series: DuckDBSeriesStore) -> None:
    rng = np.random.default_rng(2)
    aggregator = WindowAggregator(series, writer="w", kinds=lambda _: KINDS)
    aggregator.add(_batch("early", range(0, 240), rng))
    aggregator.flush(now=T0 + 200)
    aggregator.add(_batch("late", range(240, 480), rng))  # same minutes, arriving late
    aggregator.flush(now=T0 + 200)
    rows = series.read_profiles("fraud", start=T0, end=T0 + 120)
    assert len(rows) == 8 and merge_profiles(rows).requests == 480
