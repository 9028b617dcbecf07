"""Late labels at the default cadence: the evaluator ticking every 10 s on a simulated
clock for hours, labels arriving up to 90 minutes after their predictions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.demo.clock import SimulatedClock
from mlpulse.domain.events import Label, PredictionBlock
from mlpulse.domain.monitoring import Config, ModelConfig, MonitorConfig
from mlpulse.domain.schema import ColumnKind
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.server.settings import Settings
from mlpulse.services.evaluator import Evaluator
from mlpulse.testing.fakes import InMemoryEventStore, InMemoryMetadataStore, InMemorySeriesStore

T0 = 1_767_225_600.0
HOUR = 3600.0
HOURS = 5  # of traffic; then 2 more hours for the last labels to arrive
PER_MINUTE = 4
LAG_S = (60.0, 90 * 60.0)  # a label arrives 1 to 90 minutes after its prediction


@pytest.fixture(params=["memory", "duckdb"])
def events(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InMemoryEventStore]:
    """The labels' store: the in-memory fake, and the embedded DuckDB adapter."""
    if request.param == "memory":
        yield InMemoryEventStore()
        return
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    yield store  # type: ignore[misc]
    store.close()


def test_evaluator_picks_up_late_labels_at_the_default_cadence(
    events: InMemoryEventStore,
) -> None:
    """The issue's case: labels were marked checked on every tick, also when the
    performance monitor (``every`` 1m, or 1h) did not run, so most late labels of closed
    windows were never read (coverage 0.65-0.77). Two monitors read the same labels."""
    interval = Settings.from_env({}).evaluator_interval_s  # the default: 10 s
    config = Config(
        version=1,
        models={"m": ModelConfig(task="regression")},
        monitors={
            "perf": MonitorConfig(model="m", check="performance"),  # every: the default
            "hourly": MonitorConfig(model="m", check="performance", every="1h"),
        },
    )
    clock = SimulatedClock(T0)
    series, metadata = InMemorySeriesStore(), InMemoryMetadataStore()
    metadata.upsert_models({("m", "v1"): {"x": ColumnKind.NUMERIC}}, now=T0)
    evaluator = Evaluator(
        series=series, labels=events, metadata=metadata, clock=clock, config=lambda: config
    )
    evaluator.monitors = lambda: dict(config.monitors)  # type: ignore[method-assign]

    rng = np.random.default_rng(11)
    n = HOURS * 60 * PER_MINUTE
    times = T0 + np.sort(rng.uniform(0, HOURS * HOUR, n))
    truth = rng.normal(10, 3, n)
    predicted = truth + rng.normal(0, 1, n)
    arrives = times + rng.uniform(*LAG_S, n)
    ids = [f"r{i}" for i in range(n)]
    sent = labelled = 0
    order = np.argsort(arrives)
    batch = 0
    now = T0
    while now <= T0 + (HOURS + 2) * HOUR:
        now += interval
        clock.set(now)
        upto = int(np.searchsorted(times, now, side="right"))
        if upto > sent:
            block = PredictionBlock(
                model="m", version="v1", request_id=ids[sent:upto], features={},
                timestamp=times[sent:upto].tolist(), prediction=predicted[sent:upto].tolist(),
            )  # fmt: skip
            batch += 1
            events.append(AcceptedBatch(f"p{batch}", now, predictions=[block])).result()
            sent = upto
        due = int(np.searchsorted(arrives[order], now, side="right"))
        if due > labelled:
            labels = [
                Label(model="m", request_id=ids[i], label=float(truth[i]))
                for i in order[labelled:due]
            ]
            batch += 1
            events.append(AcceptedBatch(f"l{batch}", now, labels=labels)).result()
            labelled = due
        assert evaluator.tick().failures == []
    assert labelled == n

    for monitor in ("perf", "hourly"):
        for hour in range(HOURS):
            start = T0 + hour * HOUR
            (coverage,) = series.query_points(
                "mlpulse_label_coverage", matchers={"monitor": monitor}, start=start, end=start
            )
            assert coverage.value == 1.0, (monitor, hour, coverage.value)
            rows = (times >= start) & (times < start + HOUR)
            got = {
                p.labels["metric"]: p.value
                for p in series.query_points(
                    "mlpulse_performance", matchers={"monitor": monitor}, start=start, end=start
                )
            }
            y, p = truth[rows], predicted[rows]
            assert got["rmse"] == pytest.approx(sk.root_mean_squared_error(y, p))
            assert got["r2"] == pytest.approx(sk.r2_score(y, p))
            assert got["mae"] == pytest.approx(sk.mean_absolute_error(y, p))
