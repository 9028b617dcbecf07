"""Group-sequential looks of the experiments service against the core's Lan–DeMets
boundaries and scipy's Welch and z statistics."""

from __future__ import annotations

import math

import msgspec
import pytest
from scipy import stats

from mlpulse.core.experiments import MeanStats, ProportionStats
from mlpulse.core.experiments.sequential import group_sequential_boundaries
from mlpulse.domain.experiments import ExperimentSpec, LookView, MetricSpec
from mlpulse.services.experiment_analysis import compare, judge, look_verdict, plan_look


def _spec(**changes: object) -> ExperimentSpec:
    spec = ExperimentSpec(
        name="gs", model="m", variants={"A": "v1", "B": "v2"}, allocation={"A": 1, "B": 1},
        control="A", primary=MetricSpec("conversion"), method="group_sequential", looks=5,
        planned_units=10_000,
    )  # fmt: skip
    return msgspec.structs.replace(spec, **changes)


@pytest.mark.parametrize(
    ("units", "look", "boundary"),
    # O'Brien–Fleming, 5 equal looks, alpha 0.05 two-sided: gsDesign and rpact give
    # 4.877, 3.357, 2.680, 2.290, 2.031.
    [(2000, 1, 4.877), (4000, 2, 3.357), (6000, 3, 2.680), (8000, 4, 2.290), (10_000, 5, 2.031)],
)
def test_plan_look_at_the_planned_fractions_gives_the_published_boundaries(
    units: int, look: int, boundary: float
) -> None:
    view = plan_look(_spec(), units)
    assert (view.look, view.looks, view.comparisons) == (look, 5, 1)
    assert view.boundary == pytest.approx(boundary, abs=1e-3)
    assert view.information_fraction == units / 10_000


def test_plan_look_between_looks_uses_the_actual_fraction_for_the_current_look() -> None:
    view = plan_look(_spec(looks=4, planned_units=8000), 5000)  # t = 0.625: look 2 of 4
    core = group_sequential_boundaries([0.25, 0.625], alpha=0.05)
    assert view.look == 2
    assert view.boundary == pytest.approx(core.boundaries[-1], rel=1e-12)
    assert view.alpha_spent == pytest.approx(core.alpha_spent[-1], rel=1e-12)


def test_plan_look_splits_alpha_over_comparisons_and_reads_the_spending() -> None:
    spec = _spec(
        variants={"A": "v1", "B": "v2", "C": "v3"}, allocation={"A": 1, "B": 1, "C": 1},
        secondary=[MetricSpec("revenue", kind="mean")], spending="pocock", looks=3,
        planned_units=900,
    )  # fmt: skip
    view = plan_look(spec, 650)  # t = 0.722: look 2 of 3
    core = group_sequential_boundaries([1 / 3, 0.722], alpha=0.05 / 4, spending="pocock")
    assert (view.look, view.comparisons, view.spending) == (2, 4, "pocock")
    assert view.boundary == pytest.approx(core.boundaries[-1], rel=1e-12)


def test_plan_look_past_the_plan_spends_everything_at_the_last_look() -> None:
    view = plan_look(_spec(looks=2, planned_units=1000), 1500)
    core = group_sequential_boundaries([0.5, 1.0], alpha=0.05)
    assert (view.look, view.information_fraction) == (2, 1.5)
    assert view.boundary == pytest.approx(core.boundaries[-1], rel=1e-12)
    assert view.alpha_spent == pytest.approx(0.05, rel=1e-9)


def test_plan_look_before_the_first_look_has_no_boundary() -> None:
    view = plan_look(_spec(), 1999)
    assert (view.look, view.boundary, view.alpha_spent) == (0, math.inf, 0.0)
    assert look_verdict(view).startswith("Before the first of 5 looks (1,999 of 10,000")


def test_group_sequential_compare_of_means_is_welch_with_a_repeated_interval() -> None:
    control = MeanStats.from_values([10.0, 12.0, 11.0, 9.0, 13.0, 10.5] * 20)
    variant = MeanStats.from_values([11.0, 12.5, 11.5, 10.0, 13.5, 11.0] * 20)
    welch = stats.ttest_ind_from_stats(
        variant.mean, math.sqrt(variant.variance), variant.n,
        control.mean, math.sqrt(control.variance), control.n, equal_var=False,
    )  # fmt: skip
    metric = MetricSpec("x", kind="mean")
    for boundary, crossed in ((welch.statistic - 0.01, True), (welch.statistic + 0.01, False)):
        c = compare("group_sequential", 0.05, control, variant, name="B", version="v2",
                    boundary=boundary)  # fmt: skip
        se = c.difference / welch.statistic
        assert c.p_value == pytest.approx(welch.pvalue, rel=1e-9)
        assert c.ci == pytest.approx((c.difference - boundary * se, c.difference + boundary * se))
        judged = judge(c, metric, "group_sequential", 0.05)
        assert judged.significant is crossed
        assert judged.outcome == ("better" if crossed else "flat")


def test_group_sequential_compare_of_proportions_uses_the_unpooled_z() -> None:
    control, variant = ProportionStats(2000, 200), ProportionStats(2000, 260)
    pc, pt = 0.1, 0.13
    z = (pt - pc) / math.sqrt(pc * (1 - pc) / 2000 + pt * (1 - pt) / 2000)
    below = compare("group_sequential", 0.05, control, variant, name="B", version="v2",
                    boundary=z * 1.001)  # fmt: skip
    above = compare("group_sequential", 0.05, control, variant, name="B", version="v2",
                    boundary=z * 0.999)  # fmt: skip
    metric = MetricSpec("conversion")
    assert not judge(below, metric, "group_sequential", 0.05).significant
    assert judge(above, metric, "group_sequential", 0.05).significant
    assert below.p_value == pytest.approx(2 * stats.norm.sf(z), rel=1e-9)


def test_group_sequential_compare_before_the_first_look_tests_nothing() -> None:
    c = compare("group_sequential", 0.05, ProportionStats(500, 50), ProportionStats(500, 90),
                name="B", version="v2", boundary=None)  # fmt: skip
    assert (c.status, c.outcome) == ("insufficient_data", "unknown")
    assert c.difference == pytest.approx(0.08)
    assert math.isnan(c.ci[0])


def test_look_verdict_says_the_look_and_what_to_do() -> None:
    view = LookView(look=2, looks=5, units=4100, planned_units=10_000,
                    information_fraction=0.41, spending="obrien_fleming", comparisons=1,
                    boundary=3.357, alpha_spent=0.0015, crossed=False)  # fmt: skip
    assert look_verdict(view) == (
        "Look 2 of 5 (4,100 of 10,000 planned units, 41%): the primary metric did not cross "
        "the boundary (|z| >= 3.36); continue to look 3 at 6,000 units"
    )
    crossed = msgspec.structs.replace(view, crossed=True)
    assert look_verdict(crossed).endswith("crossed the boundary (|z| >= 3.36); stop here")
    final = msgspec.structs.replace(view, look=5, units=10_000, information_fraction=1.0)
    assert look_verdict(final).startswith("Final look 5 of 5 (10,000 of 10,000")
