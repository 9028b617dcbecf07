"""Performance with delayed labels: per window, against scikit-learn on the same rows,
and recomputed when late labels arrive (real DuckDB store, evaluator, simulated clock)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.duckdb_series import DuckDBSeriesStore
from mlpulse.adapters.store.sqlite_metadata import SQLiteMetadataStore
from mlpulse.adapters.store.sqlite_profiles import SQLiteProfileStore
from mlpulse.domain.events import Label, PredictionBlock
from mlpulse.domain.monitoring import Config, ModelConfig, MonitorConfig
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.services.evaluator import Evaluator

HOUR = 3600.0
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a window boundary
ROWS = 400


@dataclass
class FakeClock:
    t: float

    def now(self) -> float:
        return self.t


@dataclass
class World:
    store: DuckDBEventStore
    series: DuckDBSeriesStore
    evaluator: Evaluator
    clock: FakeClock
    scores: dict[int, np.ndarray]  # window → scores
    truth: dict[int, np.ndarray]  # window → labels


def _config(task: str) -> Config:
    return Config(
        version=1,
        models={"fraud": ModelConfig(task=task, positive_class="1")},  # type: ignore[arg-type]
        monitors={"fraud-perf": MonitorConfig(model="fraud", check="performance", window="1h")},
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    series = DuckDBSeriesStore(store.connection(), SQLiteProfileStore(tmp_path / "profiles.sqlite"))
    metadata = SQLiteMetadataStore(tmp_path / "metadata.sqlite")
    clock = FakeClock(T0 + 3 * HOUR + 600)
    rng = np.random.default_rng(7)
    scores, truth = {}, {}
    for w in range(3):
        p = rng.beta(2, 2 + w, ROWS)  # each window a little different
        scores[w], truth[w] = p, (rng.uniform(size=ROWS) < p).astype(int)
        block = PredictionBlock(
            model="fraud",
            version="v1",
            request_id=[f"r{w}-{i}" for i in range(ROWS)],
            prediction=[float(s >= 0.5) for s in p],
            score=p.tolist(),
            timestamp=(T0 + w * HOUR + np.linspace(1, HOUR - 1, ROWS)).tolist(),
        )
        store.append(AcceptedBatch(f"p{w}", T0 + w * HOUR, predictions=[block])).result(10)
    metadata.upsert_models({("fraud", "v1"): {}}, now=T0)
    evaluator = Evaluator(
        series=series, labels=store, metadata=metadata, clock=clock,
        config=lambda: _config("binary_classification"),
    )  # fmt: skip
    yield World(store, series, evaluator, clock, scores, truth)
    store.close()
    metadata.close()


def _send_labels(world: World, window: int, rows: range, batch: str) -> None:
    labels = [
        Label(model="fraud", request_id=f"r{window}-{i}", label=int(world.truth[window][i]))
        for i in rows
    ]
    world.store.append(AcceptedBatch(batch, world.clock.now(), labels=labels)).result(10)


def _reported(world: World, metric: str) -> dict[int, float]:
    points = world.series.query_points(
        "mlpulse_performance", matchers={"monitor": "fraud-perf", "metric": metric},
        start=T0 - HOUR, end=T0 + 10 * HOUR,
    )  # fmt: skip
    return {round((p.ts - T0) / HOUR): p.value for p in points}


def _expected(world: World, window: int, labelled: int) -> dict[str, float]:
    y = world.truth[window][:labelled]
    s = world.scores[window][:labelled]
    pred = (s >= 0.5).astype(int)
    return {
        "accuracy": sk.accuracy_score(y, pred),
        "precision": sk.precision_score(y, pred, zero_division=0),
        "recall": sk.recall_score(y, pred, zero_division=0),
        "f1": sk.f1_score(y, pred, zero_division=0),
        "roc_auc": sk.roc_auc_score(y, s),
        "pr_auc": sk.average_precision_score(y, s),
        "log_loss": sk.log_loss(y, s),
        "brier": sk.brier_score_loss(y, s),
    }


def test_performance_per_window_matches_sklearn_and_follows_late_labels(world: World) -> None:
    early = int(ROWS * 0.6)
    for w in range(3):
        _send_labels(world, w, range(early), f"l{w}")
    report = world.evaluator.tick()
    assert report.failures == []
    for metric, _ in _expected(world, 0, early).items():
        reported = _reported(world, metric)
        for w in range(3):
            assert reported[w] == pytest.approx(_expected(world, w, early)[metric], rel=1e-9), (
                metric, w,
            )  # fmt: skip
    coverage = world.series.query_points(
        "mlpulse_label_coverage", matchers={"monitor": "fraud-perf"}, start=T0, end=T0 + 10 * HOUR
    )
    assert {round((p.ts - T0) / HOUR): p.value for p in coverage} == pytest.approx(
        {0: early / ROWS, 1: early / ROWS, 2: early / ROWS}
    )

    # The rest of window 1's labels arrive late: only window 1 is recomputed.
    world.clock.t += 300
    _send_labels(world, 1, range(early, ROWS), "late")
    world.clock.t += 60
    assert world.evaluator.tick().failures == []
    for metric in ("accuracy", "roc_auc", "log_loss", "brier", "f1"):
        reported = _reported(world, metric)
        assert reported[1] == pytest.approx(_expected(world, 1, ROWS)[metric], rel=1e-9)
        assert reported[0] == pytest.approx(_expected(world, 0, early)[metric], rel=1e-9)
    coverage = world.series.query_points(
        "mlpulse_label_coverage", matchers={"monitor": "fraud-perf"}, start=T0 + HOUR, end=T0 + HOUR
    )
    assert [p.value for p in coverage] == [1.0]
