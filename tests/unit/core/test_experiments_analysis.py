"""The vectorised analysis against the scalar functions, and aggregation against a loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlpulse.core.experiments import (
    DifferenceResult,
    ExperimentStatus,
    MeanStats,
    adjust_p_values,
    sample_ratio_mismatch,
    welch_t_test,
)
from mlpulse.core.experiments.aggregate import aggregate
from mlpulse.core.experiments.analysis import ExperimentAnalysis, analyse_experiment
from mlpulse.core.experiments.bayesian import normal_means
from mlpulse.core.experiments.sequential import msprt_means
from mlpulse.errors import InvalidInputError, ParameterError

N_VARIANTS = 5


def _close(actual: float, expected: float) -> bool:
    if math.isnan(expected) or math.isinf(expected):
        return math.isnan(actual) if math.isnan(expected) else actual == expected
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12)


def _raw(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Units × metrics with NaNs, a constant metric, a zero-mean control and tiny arms."""
    rng = np.random.default_rng(seed)
    units = 3000
    variant = rng.integers(0, N_VARIANTS, units)
    values = np.column_stack(
        [
            rng.normal(10.0, 3.0, units) + 0.3 * variant,  # an effect that grows
            rng.exponential(5.0, units),  # skewed revenue
            (rng.random(units) < 0.1 + 0.01 * variant).astype(float),  # conversion
            np.where(variant == 0, 0.0, variant.astype(float)),  # no variance, control mean 0
            np.full(units, 2.0),  # constant everywhere
            rng.normal(0.0, 1.0, units),
        ]
    )
    values[rng.random(values.shape) < 0.2] = np.nan
    values[:, 5] = np.nan
    values[:3, 5] = [1.0, 2.0, 4.0]  # a metric seen by 3 units only
    variant[:3] = [0, 1, 1]
    return variant, values


def _analysis(seed: int, **options: object) -> tuple[ExperimentAnalysis, tuple[np.ndarray, ...]]:
    variant, values = _raw(seed)
    n, count, s, q = aggregate(variant, values, N_VARIANTS)
    tau2 = np.linspace(0.05, 0.5, values.shape[1])
    return analyse_experiment(n, count, s, q, tau2=tau2, **options), (n, count, s, q, tau2)  # type: ignore[arg-type]  # options are typed by the function


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_analyse_experiment_equals_the_scalar_functions_for_every_pair(
    seed: int, alpha: float
) -> None:
    result, (_, count, s, q, tau2) = _analysis(seed, alpha=alpha)
    for m in range(count.shape[0]):
        control = MeanStats(int(count[m, 0]), float(s[m, 0]), float(q[m, 0]))
        for v in range(1, N_VARIANTS):
            j = v - 1
            treatment = MeanStats(int(count[m, v]), float(s[m, v]), float(q[m, v]))
            welch = welch_t_test(control, treatment, alpha=alpha)
            assert result.ok[m, j] == (welch.status == ExperimentStatus.OK)
            got = result.result(m, v)
            for field in DifferenceResult.__slots__:
                want, have = getattr(welch, field), getattr(got, field)
                pairs = zip(want, have, strict=True) if isinstance(want, tuple) else [(want, have)]
                for w, h in pairs:
                    ok = w == h if isinstance(w, str | int) else _close(h, w)
                    assert ok, (m, v, field, h, w)
            assert _close(float(result.difference[m, j]), welch.difference)
            sequential = msprt_means(
                control.n, control.mean, control.variance,
                treatment.n, treatment.mean, treatment.variance, tau2=float(tau2[m]), alpha=alpha,
            )  # fmt: skip
            if sequential.status == "ok":
                assert _close(float(result.msprt_p_value[m, j]), sequential.p_value)
                for h, w in zip(result.msprt_ci[m, j], sequential.confidence_interval, strict=True):
                    assert _close(float(h), w)
            else:
                assert (
                    np.isnan(result.msprt_p_value[m, j]) and np.isnan(result.msprt_ci[m, j]).all()
                )
            bayes = normal_means(
                control.n, control.mean, control.variance if control.n >= 2 else 0.0,
                treatment.n, treatment.mean, treatment.variance if treatment.n >= 2 else 0.0,
            )  # fmt: skip
            assert _close(float(result.chance_to_beat[m, j]), bayes.chance_to_beat)
            assert _close(float(result.expected_loss[m, j]), bayes.expected_loss)
            assert _close(float(result.expected_loss_control[m, j]), bayes.expected_loss_control)


@pytest.mark.parametrize("correction", ["holm", "fdr_bh", "bonferroni"])
def test_analyse_experiment_adjusts_the_tested_pairs_like_adjust_p_values(correction: str) -> None:
    result, _ = _analysis(3, correction=correction)
    tested = result.ok.ravel()
    expected = adjust_p_values(result.p_value.ravel()[tested], method=correction)  # type: ignore[arg-type]  # a Method literal
    adjusted = result.adjusted_p_value.ravel()
    np.testing.assert_allclose(adjusted[tested], expected.adjusted, rtol=1e-9, atol=0)
    assert np.isnan(adjusted[~tested]).all()
    assert result.rejected.ravel()[tested].tolist() == list(expected.rejected)
    assert not result.rejected.ravel()[~tested].any()


def test_analyse_experiment_checks_the_split_like_sample_ratio_mismatch() -> None:
    result, (n, *_) = _analysis(4)
    assert result.srm == sample_ratio_mismatch(n.tolist())
    lopsided = analyse_experiment(
        [5000, 5400], [[10, 10]], [[1.0, 2.0]], [[1.0, 2.0]], tau2=1.0, allocation=[0.5, 0.5]
    )
    assert lopsided.srm.status == ExperimentStatus.MISMATCH


def test_analyse_experiment_reports_insufficient_data_as_nan_and_status_mask() -> None:
    result = analyse_experiment(
        [100, 100, 100],
        count=[[1, 50, 50], [50, 50, 0], [50, 50, 50]],
        sum=[[1.0, 50.0, 60.0], [50.0, 60.0, 0.0], [500.0, 510.0, 490.0]],
        sum_sq=[[1.0, 80.0, 90.0], [80.0, 90.0, 0.0], [5200.0, 5400.0, 5000.0]],
        tau2=1.0,
    )
    assert result.ok.tolist() == [[False, False], [True, False], [True, True]]
    assert result.result(0, 1).status == ExperimentStatus.INSUFFICIENT_DATA
    for name in ("difference", "p_value", "statistic", "dof", "adjusted_p_value", "msprt_p_value"):
        values = getattr(result, name)
        assert np.isnan(values[~result.ok]).all() and np.isfinite(values[result.ok]).all(), name
    assert np.isnan(result.difference_ci[~result.ok]).all()
    assert np.isnan(result.chance_to_beat[~result.ok]).all()
    assert not result.rejected[~result.ok].any()


def test_analyse_experiment_has_no_relative_difference_over_a_subnormal_control_mean() -> None:
    # The control mean is 1.1e-311: the ratio overflows, as in welch_t_test.
    result = analyse_experiment(
        [2, 2], count=[[2, 2]], sum=[[2.225073858507e-311, 1.0]], sum_sq=[[0.0, 1.0]], tau2=1.0
    )
    scalar = welch_t_test(MeanStats.from_values([0.0, 2.225073858507e-311]),
                          MeanStats.from_values([0.0, 1.0]))  # fmt: skip
    assert math.isnan(scalar.relative_difference) and math.isnan(scalar.relative_ci[0])
    assert np.isnan(result.relative_difference[0, 0]) and np.isnan(result.relative_ci[0, 0]).all()
    assert result.difference[0, 0] == scalar.difference


def test_analyse_experiment_returns_read_only_arrays() -> None:
    result, _ = _analysis(5)
    with pytest.raises(ValueError, match="read-only"):
        result.p_value[0, 0] = 0.0


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"tau2": 0.0}, ParameterError),
        ({"tau2": [1.0, 2.0]}, ParameterError),  # one per metric, and there is one metric
        ({"tau2": 1.0, "alpha": 1.5}, ParameterError),
        ({"tau2": 1.0, "correction": "hs"}, ParameterError),
    ],
)
def test_analyse_experiment_refuses_bad_parameters(
    options: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        analyse_experiment([10, 10], [[10, 10]], [[1.0, 2.0]], [[1.0, 2.0]], **options)  # type: ignore[arg-type]  # deliberately wrong


@pytest.mark.parametrize(
    ("n", "count", "sums", "sum_sq"),
    [
        ([10], [[10]], [[1.0]], [[1.0]]),  # one variant
        ([10, 10], [[10, 10, 10]], [[1.0, 1.0, 1.0]], [[1.0, 1.0, 1.0]]),  # shapes differ
        ([10, 10], [[10, -1]], [[1.0, 1.0]], [[1.0, 1.0]]),  # negative count
        ([10, 10], [[10, 10]], [[1.0, np.inf]], [[1.0, 1.0]]),  # not finite
        ([10, 10], [[10, 10]], [[1.0, 1.0]], [[1.0, -1.0]]),  # negative sum of squares
    ],
)
def test_analyse_experiment_refuses_bad_statistics(
    n: list[int], count: list[list[int]], sums: list[list[float]], sum_sq: list[list[float]]
) -> None:
    with pytest.raises(InvalidInputError):
        analyse_experiment(n, count, sums, sum_sq, tau2=1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_aggregate_equals_a_loop_over_units(dtype: type[np.floating]) -> None:
    rng = np.random.default_rng(7)
    units, metrics, variants = 20_000, 4, 6  # variant 5 gets no unit; blocks of 8,192 + rest
    variant = rng.integers(0, variants - 1, units)
    values = rng.normal(3.0, 2.0, (units, metrics)).astype(dtype)
    values[rng.random(values.shape) < 0.3] = np.nan
    values[:, 3] = np.nan
    result = aggregate(variant, values, variants)
    n = np.zeros(variants, dtype=np.int64)
    count = np.zeros((metrics, variants), dtype=np.int64)
    s, q = np.zeros((metrics, variants)), np.zeros((metrics, variants))
    for unit in range(units):
        v = variant[unit]
        n[v] += 1
        for m in range(metrics):
            y = float(values[unit, m])
            if not math.isnan(y):
                count[m, v] += 1
                s[m, v] += y
                q[m, v] += y * y
    assert result.n.tolist() == n.tolist()
    assert result.count.tolist() == count.tolist()
    np.testing.assert_allclose(result.sum, s, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(result.sum_sq, q, rtol=1e-10, atol=1e-9)
    n2, count2, s2, q2 = result
    assert n2 is result.n and count2 is result.count and s2 is result.sum and q2 is result.sum_sq


def test_aggregate_of_no_units_is_zeros() -> None:
    result = aggregate(np.array([], dtype=int), np.empty((0, 3)), 2)
    assert result.n.tolist() == [0, 0] and result.count.tolist() == [[0, 0]] * 3
    assert not result.sum.any() and not result.sum_sq.any()


@pytest.mark.parametrize(
    ("variant", "values", "n_variants", "error"),
    [
        ([0, 2], [[1.0], [2.0]], 2, InvalidInputError),  # variant out of range
        ([0, -1], [[1.0], [2.0]], 2, InvalidInputError),
        ([0.0, 1.0], [[1.0], [2.0]], 2, InvalidInputError),  # not ints
        ([0, 1, 1], [[1.0], [2.0]], 2, InvalidInputError),  # lengths differ
        ([0, 1], [1.0, 2.0], 2, InvalidInputError),  # values not 2-D
        ([0, 1], [[1.0], [np.inf]], 2, InvalidInputError),
        ([0, 1], [[1.0], [2.0]], 0, ParameterError),
    ],
)
def test_aggregate_refuses_bad_input(
    variant: list[float], values: list[object], n_variants: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        aggregate(variant, values, n_variants)  # type: ignore[arg-type]  # deliberately wrong
