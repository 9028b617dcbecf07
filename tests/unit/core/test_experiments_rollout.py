"""Champion–challenger rollout: seeded simulations of the decision rules, and their shape."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlpulse.core.experiments.rollout import (
    MetricObservation,
    RolloutDecision,
    RolloutPlan,
    RolloutResult,
    SimulatedMetric,
    decide,
    simulate_rollout,
)
from mlpulse.core.experiments.sufficient import MeanStats, ProportionStats
from mlpulse.errors import ParameterError

PLAN = RolloutPlan(max_units_per_step=20_000)
LAST = PLAN.last_tested_index


def _metrics(conversion_lift: float, latency_lift: float = 0.0) -> list[SimulatedMetric]:
    """Conversion 10% (primary, higher is better); latency 200 ms, sd 60 (guardrail)."""
    return [
        SimulatedMetric("conversion", "proportion", "increase", 0.10, lift=conversion_lift),
        SimulatedMetric(
            "latency_ms", "mean", "decrease", 200.0, lift=latency_lift, sd=60.0, guardrail=True
        ),
    ]


def _assert_steps_in_order(result: RolloutResult) -> None:
    steps = [d.step_index for d in result.timeline]
    assert steps[0] == 0
    assert all(b - a in (0, 1) for a, b in itertools.pairwise(steps))
    assert all(d.action in ("hold", "advance") for d in result.timeline[:-1])


@pytest.mark.parametrize("seed", range(5))
def test_rollout_promotes_a_better_challenger_without_rollback(seed: int) -> None:
    result = simulate_rollout(PLAN, _metrics(0.10), seed=seed)
    assert result.outcome == "promoted"
    assert result.timeline[-1].step_index_next == len(PLAN.steps) - 1
    assert not any(d.action == "rollback" for d in result.timeline)
    _assert_steps_in_order(result)


@pytest.mark.parametrize("seed", range(5))
def test_rollout_rolls_back_a_worse_challenger_before_full_traffic(seed: int) -> None:
    """A 20% drop in conversion; a 10% drop is caught in only ~70% of seeds by 20,000
    units per arm at 50% (the cap then promotes it: size the cap with a power analysis)."""
    result = simulate_rollout(PLAN, _metrics(-0.20), seed=seed)
    last = result.timeline[-1]
    assert result.outcome == "rolled_back"
    assert last.step_index <= LAST
    assert last.step_index_next is None
    assert last.reason.startswith("primary conversion harmed: -")
    _assert_steps_in_order(result)


@pytest.mark.parametrize("seed", range(5))
def test_rollout_rolls_back_when_a_guardrail_is_harmed_though_the_primary_improves(
    seed: int,
) -> None:
    result = simulate_rollout(PLAN, _metrics(0.10, latency_lift=0.10), seed=seed)
    assert result.outcome == "rolled_back"
    assert result.timeline[-1].reason.startswith("guardrail latency_ms harmed: +")
    harmed = [e.name for e in result.timeline[-1].evidence if e.harmed]
    assert harmed == ["latency_ms"]


def test_rollout_rolls_back_an_equal_challenger_in_at_most_alpha_of_runs() -> None:
    """200 seeded A/A rollouts (conversion and latency unchanged), 2,000 units a tick.

    Measured: 2 of 200 rolled back (0.010; both by latency at the 1% step), the other 198
    promoted at the cap; over seeds 200-1199, 5 of 1,000 (0.005). alpha 0.05.
    """
    results = [simulate_rollout(PLAN, _metrics(0.0), seed=seed) for seed in range(200)]
    rollbacks = sum(r.outcome == "rolled_back" for r in results)
    assert rollbacks / len(results) <= PLAN.alpha
    assert all(r.outcome in ("promoted", "rolled_back") for r in results)


def _observations(n: int) -> list[MetricObservation]:
    latency = [200.0, 190.0, 210.0] * (n // 3)
    return [
        MetricObservation(
            "conversion", "proportion", "increase", ProportionStats(n, n // 10),
            ProportionStats(n, n // 10),
        ),
        MetricObservation(
            "latency_ms", "mean", "decrease", MeanStats.from_values(latency),
            MeanStats.from_values(latency), guardrail=True,
        ),
    ]  # fmt: skip


def test_decide_holds_until_the_minimum_sample_then_advances() -> None:
    hold = decide(PLAN, 0, _observations(600))
    assert (hold.action, hold.step_index_next) == ("hold", 0)
    assert hold.reason == "holding at 1%: 600 of 1000 units per arm"
    advance = decide(PLAN, 0, _observations(1200))
    assert (advance.action, advance.step_index_next) == ("advance", 1)
    assert advance.reason == "advancing to 5%: no harm after 1200 units per arm"


def test_decide_holds_an_inconclusive_last_step_until_the_cap() -> None:
    assert decide(PLAN, LAST, _observations(3000)).action == "hold"
    promoted = decide(PLAN, LAST, _observations(21_000))
    assert promoted.action == "promote"
    assert "not worse" in promoted.reason
    assert decide(RolloutPlan(), LAST, _observations(21_000)).action == "hold"


def test_decide_ignores_a_harm_within_max_harm() -> None:
    champion, challenger = ProportionStats(50_000, 5000), ProportionStats(50_000, 4500)
    metric = MetricObservation("conversion", "proportion", "increase", champion, challenger)
    assert decide(PLAN, 1, [metric]).action == "rollback"
    tolerant = MetricObservation(
        "conversion", "proportion", "increase", champion, challenger, max_harm=0.2
    )
    assert decide(PLAN, 1, [tolerant]).action == "advance"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"steps": (5, 1, 100)}, "steps"),
        ({"steps": (1, 50)}, "steps"),
        ({"min_units_per_step": 0}, "min_units_per_step"),
        ({"max_units_per_step": 10}, "max_units_per_step"),
        ({"alpha": 1.5}, "alpha"),
        ({"tau2_by_metric": {"x": -1.0}}, "tau2_by_metric['x']"),
    ],
)
def test_rollout_plan_rejects_bad_parameters(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(f"The {name!r} parameter of RolloutPlan")):
        RolloutPlan(**kwargs)  # type: ignore[arg-type]  # deliberately wrong values


def test_decide_rejects_a_step_past_the_last_tested_one_and_two_primaries() -> None:
    with pytest.raises(ParameterError, match="'step_index' parameter of decide"):
        decide(PLAN, LAST + 1, _observations(100))
    primary = _observations(100)[0]
    with pytest.raises(ParameterError, match="'observations' parameter of decide"):
        decide(PLAN, 0, [primary, primary])


_arm = st.integers(0, 5000).flatmap(
    lambda n: st.builds(ProportionStats, st.just(n), st.integers(0, n))
)


@settings(max_examples=200, deadline=None)
@given(
    step_index=st.integers(0, LAST),
    champion=_arm,
    challenger=_arm,
    guard_c=st.lists(st.floats(0, 1000), max_size=50),
    guard_t=st.lists(st.floats(0, 1000), max_size=50),
)
# A subnormal baseline mean: its square underflows to 0 (found by CI).
@example(0, ProportionStats(0, 0), ProportionStats(0, 0), [5e-324, 5e-324], [0.0, 0.0])
# A tiny baseline: a relative variance near 1e196, whose square overflowed in mSPRT.
@example(0, ProportionStats(0, 0), ProportionStats(0, 0), [0.0, 1.5446644549728345e-98], [0.0, 1.0])
def test_decide_never_skips_a_step(
    step_index: int,
    champion: ProportionStats,
    challenger: ProportionStats,
    guard_c: list[float],
    guard_t: list[float],
) -> None:
    plan = RolloutPlan(min_units_per_step=20, max_units_per_step=2000)
    decision: RolloutDecision = decide(
        plan,
        step_index,
        [
            MetricObservation("p", "proportion", "increase", champion, challenger),
            MetricObservation(
                "g", "mean", "decrease", MeanStats.from_values(guard_c),
                MeanStats.from_values(guard_t), guardrail=True,
            ),
        ],
    )  # fmt: skip
    expected = {
        "hold": step_index,
        "advance": step_index + 1,
        "promote": step_index + 1,
        "rollback": None,
    }
    assert decision.step_index_next == expected[decision.action]
    assert (decision.action == "promote") <= (step_index == LAST)
    assert (decision.action == "advance") <= (step_index < LAST)
    assert all(0.0 <= e.p_value <= 1.0 for e in decision.evidence)


def test_decide_rolls_back_a_challenger_that_converts_nobody() -> None:
    broken = MetricObservation(
        "conversion",
        "proportion",
        "increase",
        ProportionStats(99_000, 9900),
        ProportionStats(1000, 0),
    )
    decision = decide(PLAN, 0, [broken])
    assert decision.action == "rollback"
    assert decision.reason.startswith("primary conversion harmed: -100.0% [")
