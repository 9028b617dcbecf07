"""The evaluator on in-memory stores and a simulated clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from mlpulse.domain.events import Label, PredictionBlock
from mlpulse.domain.monitoring import Config, ModelConfig, MonitorConfig
from mlpulse.domain.schema import ColumnKind
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.services.evaluator import Evaluator
from mlpulse.services.references import reference_from_columns
from mlpulse.services.windows import WindowAggregator
from mlpulse.testing.fakes import InMemoryEventStore, InMemoryMetadataStore, InMemorySeriesStore

HOUR = 3600.0
T0 = 1_767_225_600.0


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


@dataclass
class World:
    config: Config
    clock: Clock = field(default_factory=Clock)
    series: InMemorySeriesStore = field(default_factory=InMemorySeriesStore)
    events: InMemoryEventStore = field(default_factory=InMemoryEventStore)
    metadata: InMemoryMetadataStore = field(default_factory=InMemoryMetadataStore)

    def __post_init__(self) -> None:
        self.aggregator = WindowAggregator(
            self.series, writer="test", kinds=lambda _: {"x": ColumnKind.NUMERIC}
        )
        self.evaluator = Evaluator(
            series=self.series, labels=self.events, metadata=self.metadata, clock=self.clock,
            config=lambda: self.config,
        )  # fmt: skip
        self.evaluator.monitors = lambda: dict(self.config.monitors)  # type: ignore[method-assign]
        self.n = 0

    def send(self, start: float, **columns: list) -> list[str]:  # type: ignore[type-arg]
        n = len(next(iter(columns.values())))
        ids = [f"r{self.n + i}" for i in range(n)]
        self.n += n
        x = columns.pop("x", None)
        block = PredictionBlock(
            model="m", version="v1", request_id=ids,
            features={} if x is None else {"x": x},
            timestamp=[start + i * (HOUR - 1) / n for i in range(n)], **columns,
        )  # fmt: skip
        batch = AcceptedBatch(f"b{self.n}", self.clock.t, predictions=[block])
        self.metadata.upsert_models({("m", "v1"): {"x": ColumnKind.NUMERIC}}, now=self.clock.t)
        self.events.append(batch).result()
        self.aggregator.add(batch)
        self.aggregator.flush()
        return ids

    def latest(self, name: str, **matchers: str) -> dict[tuple[tuple[str, str], ...], float]:
        found = {}
        for p in self.series.query_points(name, matchers=matchers, start=0, end=T0 + 1e6):
            found[tuple(sorted(p.labels.items()))] = p.value
        return found


def _monitors(**monitors: MonitorConfig) -> Config:
    return Config(
        version=1,
        models={"m": ModelConfig(task="binary_classification", positive_class="1")},
        monitors=monitors,
    )


def test_evaluator_compares_batch_and_online_inference_side_by_side() -> None:
    world = World(_monitors(lat=MonitorConfig(model="m", check="latency", metric="p50")))
    rng = np.random.default_rng(0)
    n = 2_000
    mode = ["batch" if i % 2 else "online" for i in range(n)]
    latency = [float(rng.normal(200 if m == "batch" else 20, 1)) for m in mode]
    world.send(T0, x=[1.0] * n, latency_ms=latency, segment=[{"mode": m} for m in mode])
    world.clock.t = T0 + HOUR
    assert world.evaluator.tick().failures == []
    latest = world.latest("mlpulse_latency_seconds", percentile="p50")
    by_mode = {dict(k).get("mode"): v for k, v in latest.items()}
    assert by_mode["online"] == pytest.approx(0.020, abs=0.001)  # seconds: the base unit
    assert by_mode["batch"] == pytest.approx(0.200, abs=0.001)
    assert 0.020 < by_mode[None] < 0.200  # the overall series, without a mode label


def test_evaluator_flags_drift_against_the_previous_window_only_when_it_moved() -> None:
    world = World(
        _monitors(d=MonitorConfig(model="m", check="drift", compare_to="previous_window"))
    )
    rng = np.random.default_rng(1)
    world.send(T0, x=rng.normal(size=3_000).tolist())
    world.send(T0 + HOUR, x=rng.normal(size=3_000).tolist())
    world.clock.t = T0 + 2 * HOUR
    world.evaluator.tick()
    assert world.latest("mlpulse_drift_share") == {(("model", "m"), ("monitor", "d"),
                                                    ("version", "v1")): 0.0}  # fmt: skip
    world.send(T0 + 2 * HOUR, x=rng.normal(0.5, 1, 3_000).tolist())
    world.clock.t = T0 + 3 * HOUR
    world.evaluator.tick()
    assert list(world.latest("mlpulse_drift_share").values()) == [1.0]


def test_evaluator_grades_drift_with_the_one_threshold_set_and_the_method_default() -> None:
    # wasserstein's defaults are 0.1 (warning) and 0.2 (critical).
    drift = {"model": "m", "check": "drift", "compare_to": "previous_window",
             "method": "wasserstein"}  # fmt: skip
    world = World(_monitors(
        strict=MonitorConfig(**drift, critical=0.15), lenient=MonitorConfig(**drift, warning=0.18)
    ))  # fmt: skip
    rng = np.random.default_rng(2)
    # 200 rows a window fit in the profiles' KLL sketches (k=200) uncompacted, so the
    # distance is the same in every run (0.168, between 0.15 and 0.18). With thousands of
    # rows the sketches' random compaction moves it, by as much as 0.07 sd in 200 runs.
    world.send(T0, x=rng.normal(size=200).tolist())
    world.send(T0 + HOUR, x=rng.normal(0.19, 1, 200).tolist())
    world.clock.t = T0 + 2 * HOUR
    assert world.evaluator.tick().failures == []
    points = world.series.query_points(
        "mlpulse_drift_statistic", matchers={}, start=0, end=T0 + 1e6
    )
    distance = {p.labels["monitor"]: p.value for p in points}
    assert 0.15 < distance["strict"] < 0.18
    assert distance["lenient"] == distance["strict"]
    # The severity: 1 at the warning threshold, 2 at the critical one, linear between.
    points = world.series.query_points("mlpulse_drift_score", matchers={}, start=0, end=T0 + 1e6)
    graded = {p.labels["monitor"]: (p.value, p.status) for p in points}
    d = distance["strict"]
    assert graded["strict"][0] == pytest.approx(2.0 + (d - 0.15) / (0.15 - 0.1))
    assert graded["lenient"][0] == pytest.approx(d / 0.18)
    assert (graded["strict"][1], graded["lenient"][1]) == ("critical", "ok")


def test_evaluator_publishes_a_p_value_method_as_severity_statistic_and_p_value() -> None:
    from scipy import stats

    world = World(
        _monitors(d=MonitorConfig(model="m", check="drift", compare_to="previous_window"))
    )
    rng = np.random.default_rng(4)
    # 200 rows a window (≤ 1,000: KS by default) fit the KLL sketches uncompacted: exact.
    before, after = rng.normal(size=200), rng.normal(0.3, 1, 200)
    world.send(T0, x=before.tolist())
    world.send(T0 + HOUR, x=after.tolist())
    world.clock.t = T0 + 2 * HOUR
    assert world.evaluator.tick().failures == []
    statistic = stats.ks_2samp(before, after).statistic
    p_value = stats.kstwo.sf(statistic, 100)  # asymptotic, n m / (n + m) = 100
    (d,) = world.latest("mlpulse_drift_statistic", method="ks").values()
    (p,) = world.latest("mlpulse_drift_p_value", method="ks").values()
    (level,) = world.latest("mlpulse_drift_score", method="ks").values()
    assert d == pytest.approx(statistic)
    assert p == pytest.approx(p_value)
    assert level == pytest.approx(-np.log10(p_value) / -np.log10(0.05) if p_value > 0.05
                                  else 1 + np.log10(0.05 / p_value) / np.log10(5))  # fmt: skip


def test_cbpe_estimate_tracks_realised_accuracy_of_a_calibrated_model() -> None:
    """Estimated accuracy (CBPE, from each window's score sketch, calibrated on the
    reference sample) against realised accuracy (from labels), 12 hourly windows of
    2,000 predictions whose score distribution shifts: mean absolute error 0.011."""
    world = World(
        _monitors(
            est=MonitorConfig(model="m", check="estimated_performance", metric="accuracy"),
            real=MonitorConfig(model="m", check="performance", metric="accuracy"),
        )
    )
    rng = np.random.default_rng(7)
    p_ref = rng.beta(2, 2, 20_000)
    reference = reference_from_columns(
        "m", {"x": p_ref, "score": p_ref, "label": (rng.uniform(size=20_000) < p_ref).astype(int)},
        {"x": "numeric", "score": "numeric", "label": "numeric"}, source="test", now=T0,
        score_column="score", label_column="label",
    )  # fmt: skip
    world.series.put_reference(reference)
    errors = []
    for hour in range(12):
        a, b = 1 + hour * 0.4, 3 - hour * 0.15  # covariate shift: scores drift upward
        p = rng.beta(a, b, 2_000)
        y = (rng.uniform(size=2_000) < p).astype(int)
        start = T0 + hour * HOUR
        ids = world.send(start, x=p.tolist(), score=p.tolist(),
                         prediction=[float(s >= 0.5) for s in p])  # fmt: skip
        labels = [Label(model="m", request_id=r, label=int(v)) for r, v in zip(ids, y, strict=True)]
        world.events.append(AcceptedBatch(f"l{hour}", start + HOUR, labels=labels)).result()
        world.clock.t = start + HOUR - 1  # the tick at the end of the hour
        assert world.evaluator.tick().failures == []
        estimated = world.latest("mlpulse_estimated_performance", monitor="est")
        realised = world.series.query_points(
            "mlpulse_performance", matchers={"monitor": "real"}, start=start, end=start
        )
        errors.append(abs(next(iter(estimated.values())) - realised[0].value))
    mae = float(np.mean(errors))
    print(f"CBPE accuracy MAE over 12 windows: {mae:.4f}")
    assert mae < 0.02, mae


def test_regression_and_ranking_performance_match_sklearn_on_the_labelled_rows() -> None:
    from sklearn import metrics as sk

    rng = np.random.default_rng(3)
    world = World(
        Config(
            version=1,
            models={"m": ModelConfig(task="regression")},
            monitors={"perf": MonitorConfig(model="m", check="performance")},
        )
    )
    truth = rng.normal(10, 3, 500)
    predicted = truth + rng.normal(0, 1, 500)
    ids = world.send(T0, x=[1.0] * 500, prediction=predicted.tolist())
    labels = [
        Label(model="m", request_id=r, label=float(v)) for r, v in zip(ids, truth, strict=True)
    ]
    world.events.append(AcceptedBatch("labels", T0 + 60, labels=labels[:400])).result()
    world.clock.t = T0 + HOUR
    assert world.evaluator.tick().failures == []
    got = {dict(k)["metric"]: v for k, v in world.latest("mlpulse_performance").items()}
    assert got["mae"] == pytest.approx(sk.mean_absolute_error(truth[:400], predicted[:400]))
    assert got["rmse"] == pytest.approx(sk.root_mean_squared_error(truth[:400], predicted[:400]))
    assert got["r2"] == pytest.approx(sk.r2_score(truth[:400], predicted[:400]))
    assert list(world.latest("mlpulse_label_coverage").values()) == [0.8]

    ranking = World(
        Config(
            version=1,
            models={"m": ModelConfig(task="ranking")},
            monitors={
                "perf": MonitorConfig(model="m", check="performance", metric="ndcg_at_k", k=5)
            },
        )
    )
    lists = [[f"item{j}" for j in rng.permutation(10)[:5]] for _ in range(300)]
    clicked = [[lst[int(rng.integers(0, 5))]] for lst in lists]
    ids = ranking.send(T0, x=[1.0] * 300, prediction=lists)
    labels = [Label(model="m", request_id=r, label=c) for r, c in zip(ids, clicked, strict=True)]
    ranking.events.append(AcceptedBatch("labels", T0 + 60, labels=labels)).result()
    ranking.clock.t = T0 + HOUR
    assert ranking.evaluator.tick().failures == []
    relevance = np.array(
        [[1.0 if item in c else 0.0 for item in lst] for lst, c in zip(lists, clicked, strict=True)]
    )
    scores = np.tile(np.arange(5, 0, -1, dtype=float), (300, 1))  # rank 1 scores highest
    expected = sk.ndcg_score(relevance, scores, k=5)
    (value,) = ranking.latest("mlpulse_performance").values()
    assert value == pytest.approx(expected)
