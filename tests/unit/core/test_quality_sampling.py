"""Share checks judged against sampling error: the bounds, Good-Turing, small samples."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from mlpulse.core.drift.check import Status
from mlpulse.core.quality import missing_values, out_of_range, quality_checks, unseen_share
from mlpulse.core.quality.sampling import (
    difference_lower,
    excess_lower,
    validate_alpha,
    wilson_lower,
    wilson_upper,
)
from mlpulse.errors import ParameterError
from mlpulse.library.report import report
from tests.unit.core.test_drift_check import _synthetic

# --- the bounds, against statsmodels --------------------------------------------------


@pytest.mark.parametrize(("successes", "n"), [(0, 10), (1, 300), (6, 300), (50, 100), (999, 1000)])
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.25])
def test_wilson_bounds_match_statsmodels(successes: int, n: int, alpha: float) -> None:
    # One-sided at alpha is one side of the two-sided interval at 2 alpha.
    low, high = proportion_confint(successes, n, alpha=2 * alpha, method="wilson")
    assert wilson_lower(successes, n, alpha=alpha) == pytest.approx(low, abs=1e-12)
    assert wilson_upper(successes, n, alpha=alpha) == pytest.approx(high, abs=1e-12)


@pytest.mark.parametrize(
    ("k1", "n1", "k2", "n2"), [(30, 100, 10, 100), (6, 300, 1, 300), (0, 50, 5, 80), (7, 9, 0, 4)]
)
@pytest.mark.parametrize("alpha", [0.01, 0.05])
def test_difference_lower_matches_statsmodels_newcombe(
    k1: int, n1: int, k2: int, n2: int, alpha: float
) -> None:
    low, _ = confint_proportions_2indep(
        k1, n1, k2, n2, method="newcomb", compare="diff", alpha=2 * alpha
    )
    assert difference_lower(k1, n1, k2, n2, alpha=alpha) == pytest.approx(low, abs=1e-12)


def test_bounds_are_the_point_estimate_when_alpha_is_one_half() -> None:
    assert wilson_lower(7, 40, alpha=0.5) == pytest.approx(7 / 40)
    assert difference_lower(7, 40, 3, 60, alpha=0.5) == pytest.approx(7 / 40 - 3 / 60)
    assert excess_lower(7, 40, 0.05, 0.3, alpha=0.5) == pytest.approx(7 / 40 - 0.05)


def test_bounds_are_nan_without_rows() -> None:
    assert np.isnan(wilson_lower(0, 0))
    assert np.isnan(difference_lower(0, 0, 1, 10))
    assert np.isnan(excess_lower(0, 0, 0.1, 0.0))


def test_difference_lower_takes_an_empty_baseline_as_zero() -> None:
    assert difference_lower(5, 100, 0, 0) == wilson_lower(5, 100)


@pytest.mark.parametrize("alpha", [0.0, 0.6, -0.1, True, "0.05"])
def test_share_checks_reject_an_alpha_outside_zero_to_one_half(alpha: object) -> None:
    with pytest.raises(ParameterError, match="'alpha' parameter of missing_values"):
        missing_values([1.0], [1.0], alpha=alpha)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'alpha' parameter of unseen_share"):
        validate_alpha(alpha, "unseen_share")  # type: ignore[arg-type]


# --- unseen categories against the Good-Turing estimate --------------------------------


def _zipf(rng: np.random.Generator, n: int, k: int = 30_000) -> np.ndarray:
    p = 1.0 / np.arange(1, k + 1)
    names = np.array([f"c{i}" for i in range(k)], dtype=object)
    return names[rng.choice(k, n, p=p / p.sum())]


@pytest.mark.parametrize("seed", [0, 1])
def test_unseen_share_is_ok_for_an_unshifted_long_tail_column(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference, current = _zipf(rng, 100_000), _zipf(rng, 100_000)
    result = unseen_share(reference, current)
    # About 8% of the rows fall on categories the reference missed, as Good-Turing predicts.
    assert result.value > 0.05
    assert result.details["expected_share"] == pytest.approx(result.value, abs=0.005)
    assert result.status == Status.OK


@pytest.mark.parametrize("seed", [0, 1])
def test_unseen_share_flags_five_percent_of_rows_over_a_hundred_new_categories(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference, current = _zipf(rng, 100_000), _zipf(rng, 100_000)
    rows = rng.choice(100_000, 5_000, replace=False)
    new = np.array([f"new_{i}" for i in range(100)], dtype=object)
    current[rows] = new[rng.integers(0, 100, rows.size)]
    result = unseen_share(reference, current)
    assert result.status == Status.WARNING
    assert result.details["n_unseen_categories"] >= 100


@pytest.mark.parametrize("long_tail", [True, False])
def test_unseen_share_flags_one_new_category_at_eight_percent(long_tail: bool) -> None:
    rng = np.random.default_rng(3)
    if long_tail:
        reference, current = _zipf(rng, 100_000), _zipf(rng, 100_000)
    else:
        plans = np.array(["free", "pro", "team", "edu"], dtype=object)
        reference, current = plans[rng.integers(0, 4, 100_000)], plans[rng.integers(0, 4, 100_000)]
    current[rng.choice(100_000, 8_000, replace=False)] = "brand_new"
    result = unseen_share(reference, current)
    assert result.status == Status.CRITICAL
    assert result.details["top_unseen"][0] == ("brand_new", 8_000)


# --- small samples ---------------------------------------------------------------------


def _halves(seed: int, rows: int = 600) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    data, _, _ = _synthetic(rows, seed=seed)
    order = np.random.default_rng(seed).permutation(rows)
    half = rows // 2
    return (
        {k: v[order[:half]] for k, v in data.items()},
        {k: v[order[half:]] for k, v in data.items()},
    )


def test_report_quality_passes_at_warning_on_two_halves_of_one_dataset_for_50_seeds() -> None:
    # What `mlpulse check --fail-on warning` runs, on 300 rows a side, 25 columns.
    flagged = []
    for seed in range(50):
        reference, current = _halves(seed)
        result = report(reference, current, workers=1).to_dict()
        flagged += [
            (seed, q["check"], q["column"], q["value"])
            for q in result["quality"]
            if q["status"] in ("warning", "critical")
        ]
    assert flagged == []


def test_out_of_range_flags_a_real_five_percent_shift_at_300_rows() -> None:
    for seed in range(10):
        reference, current = _halves(seed)
        amount = current["normal_1"].copy()
        rows = np.random.default_rng(seed).choice(300, 15, replace=False)
        amount[rows] = np.nanmax(reference["normal_1"]) + 1.0 + np.arange(15.0)
        current["normal_1"] = amount
        results = quality_checks(reference, current, kinds={"normal_1": "numeric"})
        (result,) = [r for r in results if r.check == "out_of_range"]
        assert result.value >= 0.05
        assert result.status == Status.WARNING


def test_missing_values_rise_within_sampling_error_is_ok_at_300_rows() -> None:
    reference = np.where(np.arange(300) < 6, np.nan, 1.0)  # 2%
    current = np.where(np.arange(300) < 24, np.nan, 1.0)  # 8%: +6 points, bound under +5
    result = missing_values(reference, current)
    assert result.value == pytest.approx(0.06)
    assert result.details["lower_bound"] < 0.05
    assert result.status == Status.OK
    assert missing_values(reference, current, alpha=0.5).status == Status.WARNING
    big = missing_values(np.tile(reference, 100), np.tile(current, 100))
    assert big.status == Status.WARNING


def test_out_of_range_expects_two_in_n_plus_one_beyond_the_reference_extremes() -> None:
    result = out_of_range(np.arange(99.0), [200.0] * 3 + [50.0] * 97, tolerance=0.0)
    assert result.details["expected_share"] == pytest.approx(2 / 100)
    assert result.value == pytest.approx(0.03)
    assert result.status == Status.OK
