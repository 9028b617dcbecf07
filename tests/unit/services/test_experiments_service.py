"""The experiments service on a real SQLite store, a fake outcome source and a fake clock."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import msgspec
import numpy as np
import pytest

from mlpulse.adapters.store.sqlite_experiments import SQLiteExperimentStore
from mlpulse.core.experiments.assignment import assign
from mlpulse.core.experiments.sequential import group_sequential_boundaries
from mlpulse.domain.experiments import Comparison, ExperimentSpec, MetricSpec
from mlpulse.errors import InvalidInputError, NotFoundError
from mlpulse.services.experiment_analysis import experiment_verdict, metric_verdict
from mlpulse.services.experiments import Experiments

T0 = 1_767_225_600.0
Outcome = Literal["better", "worse", "flat", "unknown", "control"]


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


@dataclass
class FakeOutcomes:
    """Outcome events as (model, name, unit, value, ts), summed per unit like the store."""

    events: list[tuple[str, str, str, float, float]] = field(default_factory=list)
    # Labelled predictions as (unit, version, value, ts): 1/0 correct, or the error.
    labelled: list[tuple[str, str, float, float]] = field(default_factory=list)

    def label_totals(
        self, model: str, *, kind: str, start: float, end: float
    ) -> list[tuple[str, str, float, int]]:
        totals: dict[tuple[str, str], tuple[float, int]] = {}
        for unit, version, value, ts in self.labelled:
            if model == "m" and start <= ts < end:
                total, count = totals.get((unit, version), (0.0, 0))
                totals[unit, version] = (total + value, count + 1)
        return [(u, v, t, c) for (u, v), (t, c) in sorted(totals.items())]

    def log(self, name: str, unit: str, value: float = 1.0, *, ts: float = T0 + 10) -> None:
        self.events.append(("m", name, unit, value, ts))

    def unit_totals(
        self, model: str, name: str, *, start: float, end: float
    ) -> list[tuple[str, float, int]]:
        totals: dict[str, tuple[float, int]] = {}
        for m, n, unit, value, ts in self.events:
            if m == model and n == name and start <= ts < end:
                total, count = totals.get(unit, (0.0, 0))
                totals[unit] = (total + value, count + 1)
        return [(u, t, c) for u, (t, c) in sorted(totals.items())]


def _spec(**changes: object) -> ExperimentSpec:
    spec = ExperimentSpec(
        name="checkout",
        model="m",
        variants={"A": "v1", "B": "v2"},
        allocation={"A": 50, "B": 50},
        control="A",
        primary=MetricSpec("conversion"),
        guardrails=[MetricSpec("latency", kind="mean", direction="decrease", per_unit="mean")],
        exposure="exposure",
    )
    return msgspec.structs.replace(spec, **changes)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Experiments, FakeOutcomes, Clock]]:
    store = SQLiteExperimentStore(tmp_path / "experiments.sqlite")
    outcomes, clock = FakeOutcomes(), Clock()
    yield Experiments(store, outcomes, clock), outcomes, clock
    store.close()


def _simulate(
    outcomes: FakeOutcomes,
    spec: ExperimentSpec,
    *,
    units: int,
    conversion: dict[str, float],
    latency: dict[str, float],
    keep: Callable[[str], bool] = lambda variant: True,
    seed: int = 0,
) -> None:
    rng = np.random.default_rng(seed)
    for i in range(units):
        unit = f"user-{i}"
        variant = assign(spec.name, unit, spec.weights())
        assert variant is not None
        if not keep(variant) and rng.random() < 0.3:
            continue  # lost: this variant's exposures are not logged for 30% of its units
        outcomes.log("exposure", unit)
        outcomes.log("latency", unit, float(rng.normal(latency[variant], 10.0)))
        if rng.random() < conversion[variant]:
            outcomes.log("conversion", unit)


def _started(experiments: Experiments, clock: Clock, spec: ExperimentSpec) -> None:
    experiments.create(spec)
    experiments.start(spec.name)
    clock.t = T0 + 3600


def test_results_show_b_better_with_positive_verdict_when_b_converts_more(
    setup: tuple[Experiments, FakeOutcomes, Clock],
) -> None:
    experiments, outcomes, clock = setup
    spec = _spec()
    _started(experiments, clock, spec)
    _simulate(outcomes, spec, units=4000, conversion={"A": 0.10, "B": 0.16},
              latency={"A": 100.0, "B": 100.0})  # fmt: skip

    results = experiments.results("checkout")

    conversion = results.metrics[0]
    b = conversion.variants[1]
    assert (b.variant, b.outcome, b.significant) == ("B", "better", True)
    assert b.ci[0] > 0 and b.relative > 0.3
    assert b.adjusted_p_value >= b.p_value
    assert results.verdict.startswith("B is better on conversion by +")
    assert results.verdict.endswith("guardrails hold")
    assert results.srm.status == "ok"
    assert results.units == 4000


def test_results_say_no_significant_difference_in_an_a_a_test(
    setup: tuple[Experiments, FakeOutcomes, Clock],
) -> None:
    experiments, outcomes, clock = setup
    spec = _spec()
    _started(experiments, clock, spec)
    _simulate(outcomes, spec, units=3000, conversion={"A": 0.1, "B": 0.1},
              latency={"A": 100.0, "B": 100.0}, seed=1)  # fmt: skip

    results = experiments.results("checkout")

    assert results.metrics[0].variants[1].outcome == "flat"
    assert results.verdict.startswith("No significant difference on conversion (B: ")
    assert results.guardrails_hold


@pytest.mark.parametrize("method", ["sequential", "bayesian"])
def test_results_find_the_winner_with_method(
    setup: tuple[Experiments, FakeOutcomes, Clock], method: str
) -> None:
    experiments, outcomes, clock = setup
    spec = _spec(method=method)
    _started(experiments, clock, spec)
    _simulate(outcomes, spec, units=4000, conversion={"A": 0.10, "B": 0.16},
              latency={"A": 100.0, "B": 100.0})  # fmt: skip

    b = experiments.results("checkout").metrics[0].variants[1]

    assert b.outcome == "better"
    if method == "bayesian":
        assert b.chance_to_beat > 0.99
    else:
        assert b.p_value < 0.01 and b.ci[0] > 0


def test_results_flag_sample_ratio_mismatch_when_a_variant_loses_units(
    setup: tuple[Experiments, FakeOutcomes, Clock],
) -> None:
    experiments, outcomes, clock = setup
    spec = _spec()
    _started(experiments, clock, spec)
    _simulate(outcomes, spec, units=4000, conversion={"A": 0.1, "B": 0.1},
              latency={"A": 100.0, "B": 100.0}, keep=lambda v: v == "A")  # fmt: skip

    results = experiments.results("checkout")

    assert results.srm.status == "mismatch"
    assert results.srm.observed["B"] < results.srm.expected["B"]
    assert results.verdict.startswith("Sample ratio mismatch")


def test_check_guardrails_stops_the_experiment_when_latency_gets_worse(
    setup: tuple[Experiments, FakeOutcomes, Clock],
) -> None:
    experiments, outcomes, clock = setup
    spec = _spec()
    _started(experiments, clock, spec)
    _simulate(outcomes, spec, units=2000, conversion={"A": 0.1, "B": 0.1},
              latency={"A": 100.0, "B": 130.0})  # fmt: skip

    results = experiments.check_guardrails("checkout")

    assert results.experiment.status == "stopped"
    assert results.experiment.stopped_at == clock.t
    assert results.experiment.stop_reason.startswith("guardrail breached: B is worse on latency")
    assert not results.guardrails_hold
    assert experiments.assignment("checkout", "user-1").variant == "A"  # control once stopped


def test_check_guardrails_tolerates_harm_below_guardrail_max_harm(
    setup: tuple[Experiments, FakeOutcomes, Clock],
) -> None:
    experiments, outcomes, clock = setup
    guard = MetricSpec("latency", kind="mean", direction="decrease", per_unit="mean",
                       guardrail_max_harm=0.5)  # fmt: skip
    spec = _spec(guardrails=[guard])
    _started(experiments, clock, spec)
    _simulate(outcomes, spec, units=2000, conversion={"A": 0.1, "B": 0.1},
              latency={"A": 100.0, "B": 130.0})  # fmt: skip

    assert experiments.check_running() == []
    assert experiments.get("checkout").status == "running"


def test_check_running_stops_harmful_experiments_at_most_once_per_interval(
    setup: tuple[Experiments, FakeOutcomes, Clock],
) -> None:
    experiments, outcomes, clock = setup
    spec = _spec()
    _started(experiments, clock, spec)
    assert experiments.check_running() == []
    _simulate(outcomes, spec, units=2000, conversion={"A": 0.1, "B": 0.1},
              latency={"A": 100.0, "B": 130.0})  # fmt: skip

    assert experiments.check_running() == []  # within the interval: not checked again
    clock.t += 60
    assert experiments.check_running() == ["checkout"]


def test_assignment_is_deterministic_and_enrolls_only_while_running(
    setup: tuple[Experiments, FakeOutcomes, Clock],
) -> None:
    experiments, _, _ = setup
    experiments.create(_spec())
    draft = experiments.assignment("checkout", "user-42")
    experiments.start("checkout")

    running = [experiments.assignment("checkout", "user-42") for _ in range(3)]

    assert (draft.variant, draft.enrolled) == ("A", False)
    expected = assign("checkout", "user-42", {"A": 50, "B": 50})
    assert {(a.variant, a.enrolled) for a in running} == {(expected, True)}
    assert running[0].version == {"A": "v1", "B": "v2"}[running[0].variant]


def test_lifecycle_refuses_a_second_start_and_unknown_names(
    setup: tuple[Experiments, FakeOutcomes, Clock],
) -> None:
    experiments, _, _ = setup
    experiments.create(_spec())
    with pytest.raises(InvalidInputError, match="name: an experiment named 'checkout' exists"):
        experiments.create(_spec())
    experiments.start("checkout")
    with pytest.raises(InvalidInputError, match="only a draft can start"):
        experiments.start("checkout")
    assert experiments.stop("checkout", "done").stop_reason == "done"
    assert [e.status for e in experiments.list()] == ["stopped"]
    with pytest.raises(NotFoundError):
        experiments.results("nope")


def test_create_refuses_lifecycle_fields_set_by_the_caller(
    setup: tuple[Experiments, FakeOutcomes, Clock],
) -> None:
    experiments, _, _ = setup
    with pytest.raises(InvalidInputError) as caught:
        experiments.create(_spec(status="running"))
    assert caught.value.field == "status"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"allocation": {"A": 50}}, "allocation"),
        ({"allocation": {"A": 50, "B": 0}}, "allocation.B"),
        ({"control": "C"}, "control"),
        ({"alpha": 0.7}, "alpha"),
        ({"variants": {"A": "v1"}, "allocation": {"A": 1}}, "variants"),
        ({"secondary": [MetricSpec("conversion")]}, "secondary[0].name"),
        (
            {"guardrails": [MetricSpec("x", guardrail_max_harm=-1)]},
            "guardrails[0].guardrail_max_harm",
        ),
        ({"primary": MetricSpec("accuracy", source="labels", per_unit="sum")}, "primary.per_unit"),
        ({"method": "group_sequential", "looks": 5}, "planned_units"),
        ({"method": "group_sequential", "looks": 5, "planned_units": 1}, "planned_units"),
        ({"method": "group_sequential", "planned_units": 1000}, "looks"),
        ({"method": "group_sequential", "looks": 0, "planned_units": 1000}, "looks"),
        ({"looks": 5}, "looks"),
        ({"method": "sequential", "planned_units": 1000}, "planned_units"),
        ({"spending": "pocock"}, "spending"),
    ],
)
def test_spec_validation_names_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _spec(**changes)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def _stream(
    outcomes: FakeOutcomes,
    spec: ExperimentSpec,
    *,
    units: int,
    conversion: dict[str, float],
    seed: int,
) -> None:
    """``units`` users, one a second from T0 + 10: user i is seen at T0 + 10 + i."""
    rng = np.random.default_rng(seed)
    for i in range(units):
        unit, ts = f"user-{i}", T0 + 10 + i
        variant = assign(spec.name, unit, spec.weights())
        assert variant is not None
        outcomes.log("exposure", unit, ts=ts)
        if rng.random() < conversion[variant]:
            outcomes.log("conversion", unit, ts=ts)


GS = {"method": "group_sequential", "looks": 5, "planned_units": 10_000, "guardrails": []}


def test_group_sequential_stops_a_large_effect_at_an_early_look(
    setup: tuple[Experiments, FakeOutcomes, Clock],
) -> None:
    experiments, outcomes, clock = setup
    spec = _spec(**GS)
    experiments.create(spec)
    experiments.start("checkout")
    _stream(outcomes, spec, units=10_000, conversion={"A": 0.10, "B": 0.20}, seed=2)

    clock.t = T0 + 10 + 1500  # 1,500 units: before the first look (2,000)
    early = experiments.results("checkout")
    clock.t = T0 + 10 + 2500  # 2,500 units: look 1
    first = experiments.results("checkout")

    assert early.look is not None and early.look.look == 0
    assert early.metrics[0].variants[1].status == "insufficient_data"
    assert early.verdict.startswith("Before the first of 5 looks (1,500 of 10,000")
    assert first.look is not None
    assert (first.look.look, first.look.crossed) == (1, True)
    b = first.metrics[0].variants[1]
    assert (b.outcome, b.significant) == ("better", True)
    assert b.ci[0] > 0 and math.isnan(b.adjusted_p_value)
    # Lan–DeMets at the actual information fraction of look 1, 0.25 (not the planned 0.2).
    boundary = group_sequential_boundaries([0.25], alpha=0.05).boundaries[0]
    assert first.look.boundary == pytest.approx(boundary, rel=1e-12)
    assert first.verdict.startswith(
        "Look 1 of 5 (2,500 of 10,000 planned units, 25%): the primary metric crossed "
        f"the boundary (|z| >= {boundary:.3g}); stop here. B is better on conversion by +"
    )


def test_group_sequential_never_crosses_on_a_null_effect(
    setup: tuple[Experiments, FakeOutcomes, Clock],
) -> None:
    experiments, outcomes, clock = setup
    spec = _spec(**GS)
    experiments.create(spec)
    experiments.start("checkout")
    _stream(outcomes, spec, units=10_000, conversion={"A": 0.10, "B": 0.10}, seed=3)

    seen = []
    for k in range(1, 6):
        clock.t = T0 + 10 + 2000 * k
        results = experiments.results("checkout")
        assert results.look is not None
        seen.append((results.look.look, results.look.crossed))
        assert results.metrics[0].variants[1].outcome == "flat"

    assert seen == [(1, False), (2, False), (3, False), (4, False), (5, False)]
    assert results.verdict.startswith(
        "Final look 5 of 5 (10,000 of 10,000 planned units, 100%): the primary metric did "
        "not cross the boundary (|z| >= 2.03). No significant difference on conversion"
    )


def test_labels_metric_counts_only_the_assigned_versions_predictions(
    setup: tuple[Experiments, FakeOutcomes, Clock],
) -> None:
    experiments, outcomes, clock = setup
    spec = _spec(primary=MetricSpec("accuracy", source="labels"), guardrails=[])
    _started(experiments, clock, spec)
    rng = np.random.default_rng(5)
    truth: dict[str, list[float]] = {"A": [], "B": []}
    for i in range(600):
        unit = f"user-{i}"
        variant = assign(spec.name, unit, spec.weights())
        assert variant is not None
        hits = [float(rng.random() < (0.6 if variant == "A" else 0.9)) for _ in range(3)]
        truth[variant].append(sum(hits) / 3)
        for hit in hits:
            outcomes.labelled.append((unit, spec.variants[variant], hit, T0 + 10))
            # The other version in shadow: always right, and never counted.
            other = "v2" if variant == "A" else "v1"
            outcomes.labelled.append((unit, other, 1.0, T0 + 10))

    results = experiments.results("checkout")

    a, b = results.metrics[0].variants
    assert (a.n, b.n) == (len(truth["A"]), len(truth["B"]))
    assert a.estimate == pytest.approx(np.mean(truth["A"]))
    assert b.estimate == pytest.approx(np.mean(truth["B"]))
    assert b.outcome == "better"
    assert results.units == 600


def test_results_of_a_draft_say_not_started(
    setup: tuple[Experiments, FakeOutcomes, Clock],
) -> None:
    experiments, _, _ = setup
    experiments.create(_spec())

    results = experiments.results("checkout")

    assert results.verdict == "Not started yet: no results."
    assert results.srm.status == "insufficient_data"


# -- verdict text -----------------------------------------------------------------------------


def _c(variant: str, outcome: Outcome, relative: float, ci: tuple[float, float]) -> Comparison:
    blank = Comparison.blank(variant, "v", 1000, 0.1)
    return msgspec.structs.replace(
        blank, status="ok", relative=relative, relative_ci=ci, outcome=outcome
    )


def test_metric_verdict_names_the_better_variant_with_its_lift_and_interval() -> None:
    control = Comparison.blank("A", "v1", 1000, 0.1)
    text = metric_verdict("conversion", [control, _c("B", "better", 0.021, (0.008, 0.034))])
    assert text == "B is better on conversion by +2.1% [0.8%, 3.4%]"


def test_metric_verdict_says_no_significant_difference_when_flat() -> None:
    text = metric_verdict("conversion", [_c("B", "flat", 0.003, (-0.012, 0.018))])
    assert text == "No significant difference on conversion (B: +0.3% [-1.2%, 1.8%])"


def test_metric_verdict_says_not_enough_data() -> None:
    blank = Comparison.blank("B", "v2", 1, 0.0)
    c = msgspec.structs.replace(blank, status="insufficient_data", outcome="unknown")
    assert metric_verdict("conversion", [c]) == "Not enough data yet on conversion for B"


def test_experiment_verdict_adds_guardrails_and_srm() -> None:
    primary = "B is better on conversion by +2.1% [0.8%, 3.4%]"
    assert experiment_verdict(primary, srm_mismatch=False, breached=[]) == (
        "B is better on conversion by +2.1% [0.8%, 3.4%]; guardrails hold"
    )
    text = experiment_verdict(primary, srm_mismatch=True, breached=["latency"])
    assert text.startswith("Sample ratio mismatch")
    assert text.endswith("; guardrails breached: latency")
