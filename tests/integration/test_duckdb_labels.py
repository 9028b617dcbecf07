"""Predictions joined to labels, and retention, in the DuckDB event store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.domain.blocks import blocks_from_rows
from mlpulse.domain.events import Label, Outcome, Prediction
from mlpulse.domain.storage import AcceptedBatch

T = 1_767_225_600.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBEventStore]:
    events = DuckDBEventStore(tmp_path / "events.duckdb")
    yield events
    events.close()


def _prediction(request_id: str, ts: float, **fields: Any) -> Prediction:
    fields.setdefault("model", "fraud")
    fields.setdefault("version", "v1")
    return Prediction(request_id=request_id, timestamp=ts, **fields)


def _label(request_id: str, label: Any, *, model: str = "fraud") -> Label:
    return Label(model=model, request_id=request_id, label=label)


def _send(
    store: DuckDBEventStore,
    batch_id: str,
    received_at: float,
    predictions: list[Prediction] | None = None,
    labels: list[Label] | None = None,
    outcomes: list[Outcome] | None = None,
) -> None:
    batch = AcceptedBatch(
        batch_id,
        received_at,
        predictions=blocks_from_rows(predictions or []),
        labels=labels or [],
        outcomes=outcomes or [],
    )
    store.append(batch).result(10)


def test_each_prediction_is_joined_to_its_latest_label(store: DuckDBEventStore) -> None:
    _send(store, "p", T, [_prediction(f"r{i}", T + i) for i in range(4)])
    _send(store, "l1", T + 100, labels=[_label("r0", "old"), _label("r1", "a")])
    # Received later: replaces r0's label. Received at once: the one stored last wins.
    _send(store, "l2", T + 200, labels=[_label("r0", "new"), _label("r2", "x"), _label("r2", "y")])
    # A null label carries no truth; a label of another model is not this model's.
    _send(store, "l3", T + 300, labels=[_label("r1", None), _label("r3", "z", model="other")])
    rows = store.labelled_predictions("fraud", start=T, end=T + 60)
    assert rows.request_id == ["r0", "r1", "r2"]
    assert rows.label == ["new", "a", "y"]
    assert rows.ts == [T, T + 1, T + 2]
    assert rows.total == 4  # r3 has no label but is counted
    assert len(rows) == 3


def test_values_come_back_as_they_were_sent(store: DuckDBEventStore) -> None:
    predictions = [
        _prediction("a", T, prediction=0.5, score=0.5, probabilities={"yes": 0.5, "no": 0.5}),
        _prediction("b", T + 1, prediction="cat", segment={"mode": "x", "country": "DE"}),
        _prediction("c", T + 2, prediction=[1, "item"]),
        _prediction("d", T + 3, prediction=True),
        _prediction("e", T + 4),
    ]
    labels = [_label("a", 1.0), _label("b", "dog"), _label("c", ["item"]), _label("d", False)]
    _send(store, "p", T, predictions, [*labels, _label("e", 2.0)])
    rows = store.labelled_predictions("fraud", start=T, end=T + 60)
    assert rows.prediction == [0.5, "cat", [1, "item"], True, None]
    assert rows.label == [1.0, "dog", ["item"], False, 2.0]
    assert rows.score == [0.5, None, None, None, None]
    assert rows.probabilities == [{"yes": 0.5, "no": 0.5}, None, None, None, None]
    assert rows.segment == ["", '{"country":"DE","mode":"x"}', "", "", ""]
    assert rows.version == ["v1"] * 5


def test_the_window_is_half_open_and_versions_can_be_chosen(store: DuckDBEventStore) -> None:
    predictions = [
        _prediction("shared", T, version="v1"),
        _prediction("shared", T, version="v2"),  # a shadow version on the same request
        _prediction("only-v2", T + 10, version="v2"),
        _prediction("late", T + 60, version="v1"),
    ]
    labels = [_label("shared", 1.0), _label("late", 0.0)]
    _send(store, "p", T, predictions, labels)
    both = store.labelled_predictions("fraud", start=T, end=T + 60)
    assert list(zip(both.request_id, both.version, strict=True)) == [
        ("shared", "v1"),
        ("shared", "v2"),
    ]
    assert both.total == 3
    v2 = store.labelled_predictions("fraud", start=T, end=T + 60, version="v2")
    assert (v2.request_id, v2.total) == (["shared"], 2)
    v3 = store.labelled_predictions("fraud", start=T, end=T + 60, version="v3")
    assert (len(v3), v3.total) == (0, 0)


def test_a_window_without_labels_still_counts_its_predictions(store: DuckDBEventStore) -> None:
    _send(store, "p", T, [_prediction(f"r{i}", T + i) for i in range(3)])
    rows = store.labelled_predictions("fraud", start=T, end=T + 60)
    assert (len(rows), rows.total, rows.label) == (0, 3, [])
    nobody = store.labelled_predictions("nobody", start=T, end=T + 60)
    assert (len(nobody), nobody.total) == (0, 0)


def test_labelled_since_gives_the_windows_late_labels_touch(store: DuckDBEventStore) -> None:
    predictions = [
        _prediction("early", T),
        _prediction("late", T + 120),
        _prediction("late", T + 120, version="v2"),
        _prediction("twice", T + 180),
        _prediction("never", T + 240),
    ]
    _send(store, "p", T, predictions)
    _send(store, "l1", T + 1000, labels=[_label("early", 1.0)])
    _send(store, "l2", T + 5000, labels=[_label("late", 1.0), _label("twice", 0.0)])
    _send(store, "l3", T + 5001, labels=[_label("twice", 1.0), _label("never", None)])
    got = store.labelled_since("fraud", since=T + 5000)
    assert got == [("v1", T + 120), ("v2", T + 120), ("v1", T + 180)]
    assert store.labelled_since("fraud", since=T + 9999) == []
    assert store.labelled_since("nobody", since=T) == []


def test_delete_events_before_removes_old_rows_of_every_table(store: DuckDBEventStore) -> None:
    old, new = T - 86_400, T
    _send(
        store,
        "b1",
        T,
        [_prediction("a", old), _prediction("b", new), _prediction("c", old, model="credit")],
        [Label(model="fraud", request_id="a", label=1.0, timestamp=old), _label("b", 0.0)],
        [Outcome(name="buy", timestamp=old), Outcome(name="buy", timestamp=old + 1)],
    )
    _send(store, "b2", T, [_prediction("d", new, model="credit")], outcomes=[Outcome(name="x")])
    assert store.delete_events_before(T - 3600) == 5
    assert [store.count(kind) for kind in ("prediction", "label", "outcome")] == [2, 1, 1]
    assert store.labelled_predictions("fraud", start=old, end=T + 1).request_id == ["b"]
    assert store.delete_events_before(T - 3600) == 0
    assert store.append(AcceptedBatch("b1", T)).result(10).duplicate  # batch ids are kept


def test_delete_events_before_removes_the_batches_received_before_the_cutoff(
    store: DuckDBEventStore,
) -> None:
    _send(store, "old", T - 86_400, [_prediction("a", T - 86_400)])
    _send(store, "new", T, [_prediction("b", T)])
    store.delete_events_before(T - 3600)
    assert store.query("SELECT batch_id FROM batches") == [("new",)]


def test_delete_events_before_runs_beside_the_writer(store: DuckDBEventStore) -> None:
    futures = []
    for i in range(50):
        # Every batch brings a new feature: the writer records its type each time.
        features = {"amount": 1.0, f"new{i}": 2.0}
        rows = [_prediction(f"r{i}", T - 100 + i, features=features)]
        futures.append(store.append(AcceptedBatch(f"b{i}", T, predictions=blocks_from_rows(rows))))
        if i % 5 == 0:
            store.delete_events_before(T - 75)
    for future in futures:
        future.result(10)
    store.delete_events_before(T - 75)
    assert store.count("prediction") == 25
