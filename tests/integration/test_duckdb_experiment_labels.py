"""Experiment metrics from labels: predictions joined to labels and, through the outcome
events' request id, to units, in a real DuckDB event store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.duckdb_experiments import DuckDBExperimentOutcomes
from mlpulse.adapters.store.sqlite_experiments import SQLiteExperimentStore
from mlpulse.core.experiments.assignment import assign
from mlpulse.domain.blocks import blocks_from_rows
from mlpulse.domain.events import Label, Outcome, Prediction
from mlpulse.domain.experiments import ExperimentSpec, MetricSpec
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.services.experiments import Experiments

T = 1_767_225_600.0


@dataclass
class Clock:
    t: float = T

    def now(self) -> float:
        return self.t


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBEventStore]:
    events = DuckDBEventStore(tmp_path / "events.duckdb")
    yield events
    events.close()


def _send(store: DuckDBEventStore, batch_id: str, **events: list[Any]) -> None:
    batch = AcceptedBatch(
        batch_id,
        T + 500,
        predictions=blocks_from_rows(events.get("predictions", [])),
        labels=events.get("labels", []),
        outcomes=events.get("outcomes", []),
    )
    store.append(batch).result(10)


def _p(request: str, version: str, prediction: Any, ts: float = T + 10) -> Prediction:
    return Prediction(model="m", version=version, request_id=request, prediction=prediction,
                      timestamp=ts)  # fmt: skip


def _exposure(request: str, unit: str) -> Outcome:
    return Outcome(name="exposure", model="m", request_id=request, unit_id=unit, timestamp=T + 10)


def test_label_totals_join_predictions_labels_and_units(store: DuckDBEventStore) -> None:
    _send(
        store, "b1",
        predictions=[
            _p("r1", "v1", "cat"), _p("r2", "v1", "dog"), _p("r3", "v1", 1),  # u1
            _p("r3", "v2", 2),  # a shadow version answering the same request
            _p("r4", "v2", 3.0),  # u2
            _p("r5", "v2", 7.5),  # u2, regression
            _p("r6", "v1", "cat", ts=T - 100),  # before the window
            _p("r7", "v1", "cat"),  # no label
            _p("r8", "v1", "cat"),  # no unit
            _p("r9", "v1", "cat"),  # two units: left out
            _p("r10", "v1", None),  # no prediction
        ],
        labels=[
            Label(model="m", request_id=r, label=v)
            for r, v in [("r1", "cat"), ("r2", "cat"), ("r3", 1.0), ("r4", 3), ("r5", 5),
                         ("r6", "cat"), ("r8", "cat"), ("r9", "cat"), ("r10", "cat")]
        ],
        outcomes=[_exposure("r1", "u1"), _exposure("r2", "u1"), _exposure("r3", "u1"),
                  _exposure("r4", "u2"), _exposure("r5", "u2"), _exposure("r6", "u1"),
                  _exposure("r7", "u1"), _exposure("r9", "u1"), _exposure("r9", "u3"),
                  _exposure("r10", "u1"),
                  Outcome(name="purchase", model="m", request_id="r1", unit_id="u1")],
    )  # fmt: skip
    outcomes = DuckDBExperimentOutcomes(store)
    correct = outcomes.label_totals("m", kind="proportion", start=T, end=T + 60)
    # u1/v1: cat=cat yes, dog≠cat, 1 == 1.0 as numbers; u1/v2: 2 ≠ 1; u2/v2: 3 == 3, 7.5 ≠ 5.
    assert correct == [("u1", "v1", 2.0, 3), ("u1", "v2", 0.0, 1), ("u2", "v2", 1.0, 2)]
    errors = outcomes.label_totals("m", kind="mean", start=T, end=T + 60)
    # Absolute errors of numeric pairs only: u1/v1 |1 - 1|, u1/v2 |2 - 1|, u2/v2 0 + 2.5.
    assert errors == [("u1", "v1", 0.0, 1), ("u1", "v2", 1.0, 1), ("u2", "v2", 2.5, 2)]
    assert outcomes.label_totals("other", kind="mean", start=T, end=T + 60) == []


def test_accuracy_from_labels_compares_each_units_assigned_version(
    store: DuckDBEventStore, tmp_path: Path
) -> None:
    """1,200 users, A (v1, 70% accurate) against B (v2, 80%); every request is also
    answered by the other version in shadow, which must not leak into the results."""
    spec = ExperimentSpec(
        name="acc", model="m", variants={"A": "v1", "B": "v2"}, allocation={"A": 1, "B": 1},
        control="A", primary=MetricSpec("accuracy", source="labels"),
        secondary=[MetricSpec("abs_error", kind="mean", direction="decrease", source="labels")],
        exposure="exposure",
    )  # fmt: skip
    accuracy = {"v1": 0.7, "v2": 0.8}
    rng = np.random.default_rng(7)
    predictions, labels, exposures = [], [], []
    per_unit: dict[str, list[list[float]]] = {"A": [], "B": []}
    for u in range(1200):
        unit = f"user{u}"
        variant = assign("acc", unit, spec.weights())
        assert variant is not None
        mine = spec.variants[variant]
        hits = []
        for r in range(int(rng.integers(1, 4))):
            request = f"{unit}-{r}"
            truth = int(rng.integers(0, 2))
            for version in ("v1", "v2"):
                right = rng.random() < accuracy[version]
                guess = truth if right else 1 - truth
                predictions.append(_p(request, version, guess))
                if version == mine:
                    hits.append(float(right))
            labels.append(Label(model="m", request_id=request, label=truth))
            exposures.append(_exposure(request, unit))
        per_unit[variant].append(hits)
    _send(store, "b", predictions=predictions, labels=labels, outcomes=exposures)

    experiments_store = SQLiteExperimentStore(tmp_path / "experiments.sqlite")
    clock = Clock(T)
    experiments = Experiments(experiments_store, DuckDBExperimentOutcomes(store), clock)
    experiments.create(spec)
    experiments.start("acc")
    clock.t = T + 60
    results = experiments.results("acc")
    experiments_store.close()

    means = {v: [float(np.mean(h)) for h in per_unit[v]] for v in ("A", "B")}
    primary = results.metrics[0]
    control, treatment = primary.variants
    assert results.units == 1200
    assert (control.n, treatment.n) == (len(means["A"]), len(means["B"]))
    assert control.estimate == pytest.approx(np.mean(means["A"]))
    assert treatment.estimate == pytest.approx(np.mean(means["B"]))
    welch = stats.ttest_ind(means["B"], means["A"], equal_var=False)
    assert treatment.p_value == pytest.approx(welch.pvalue, rel=1e-9)
    assert treatment.outcome == "better"
    assert results.verdict.startswith("B is better on accuracy by +")
    # Binary predictions and labels: the absolute error is 1 - accuracy, unit by unit.
    error = results.metrics[1].variants[1]
    assert error.estimate == pytest.approx(1 - treatment.estimate)
    assert error.outcome == "better"
