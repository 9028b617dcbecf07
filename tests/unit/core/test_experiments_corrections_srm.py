"""Multiple-comparison corrections against statsmodels; sample ratio mismatch against scipy."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests

from mlpulse.core.experiments import (
    ExperimentStatus,
    adjust_p_values,
    benjamini_hochberg,
    bonferroni,
    holm,
    sample_ratio_mismatch,
)
from mlpulse.errors import ParameterError

_many = settings(max_examples=60, deadline=None)
_p_values = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30)
FUNCTIONS = {"bonferroni": bonferroni, "holm": holm, "fdr_bh": benjamini_hochberg}


def _seeded_p_values() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    return [
        rng.uniform(size=20),
        np.r_[rng.uniform(0, 0.01, 5), rng.uniform(size=15)],
        np.array([0.01, 0.01, 0.03, 0.03, 0.2, 0.5, 0.5]),  # ties
        np.array([0.0, 1.0, 0.04]),
        np.array([0.3]),
    ]


# ---------------------------------------------------------------- corrections


@pytest.mark.parametrize("method", sorted(FUNCTIONS))
@pytest.mark.parametrize("case", range(5))
def test_corrections_match_statsmodels_multipletests(
    method: Literal["bonferroni", "holm", "fdr_bh"], case: int
) -> None:
    p = _seeded_p_values()[case]
    reject, corrected, _, _ = multipletests(p, alpha=0.05, method=method)
    np.testing.assert_allclose(FUNCTIONS[method](p), corrected, rtol=1e-12)
    result = adjust_p_values(p, method=method, alpha=0.05)
    assert result.rejected == tuple(bool(r) for r in reject)
    assert result.p_values == tuple(p.tolist())


@_many
@given(_p_values, st.sampled_from(sorted(FUNCTIONS)))
def test_adjusted_p_values_are_at_least_raw_at_most_one_and_monotone(
    p_values: list[float], method: str
) -> None:
    p = np.array(p_values)
    adjusted = FUNCTIONS[method](p)
    assert (adjusted >= p).all() and (adjusted <= 1.0).all()
    order = np.argsort(p, kind="stable")
    assert (np.diff(adjusted[order]) >= 0).all()


@_many
@given(_p_values)
def test_holm_never_rejects_less_than_bonferroni_and_bh_never_less_than_holm(
    p_values: list[float],
) -> None:
    # Within one unit in the last place: the three round m·p/k differently.
    assert (holm(p_values) <= bonferroni(p_values) + 1e-12).all()
    assert (benjamini_hochberg(p_values) <= holm(p_values) + 1e-12).all()


def test_corrections_of_no_p_values_are_empty() -> None:
    assert bonferroni([]).size == 0 and holm([]).size == 0 and benjamini_hochberg([]).size == 0


@pytest.mark.parametrize("bad", [[0.1, math.nan], [1.2], [-0.1], [[0.1, 0.2]], ["x"]])
def test_corrections_reject_values_that_are_not_p_values(bad: object) -> None:
    with pytest.raises(ParameterError, match="'p_values' parameter of holm"):
        holm(bad)  # type: ignore[arg-type]  # deliberately wrong


def test_adjust_p_values_rejects_unknown_method_and_bad_alpha() -> None:
    with pytest.raises(ParameterError, match="'method' parameter of adjust_p_values"):
        adjust_p_values([0.1], method="hs")  # type: ignore[arg-type]  # deliberately wrong
    with pytest.raises(ParameterError, match="'alpha' parameter of adjust_p_values"):
        adjust_p_values([0.1], alpha=1.0)


# ---------------------------------------------------------------- sample ratio mismatch

SPLITS = [
    ([5000, 5400], None),
    ([5000, 5100], None),
    ([1980, 8020], [0.2, 0.8]),
    ([3300, 3333, 3400], [1, 1, 1]),
    ([100, 0, 120], [2.0, 1.0, 2.0]),
]


@pytest.mark.parametrize(("observed", "allocation"), SPLITS)
def test_srm_matches_scipy_chisquare(observed: list[int], allocation: list[float] | None) -> None:
    weights = np.ones(len(observed)) if allocation is None else np.array(allocation, float)
    expected = sum(observed) * weights / weights.sum()
    oracle = stats.chisquare(observed, expected)
    result = sample_ratio_mismatch(observed, allocation)
    assert result.statistic == pytest.approx(oracle.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(oracle.pvalue, rel=1e-10, abs=1e-300)
    assert result.expected == pytest.approx(tuple(expected))
    mismatch = oracle.pvalue < 0.001
    assert (result.status is ExperimentStatus.MISMATCH) == mismatch


def test_srm_flags_mismatch_only_below_the_threshold() -> None:
    observed = [5000, 5250]  # p ≈ 0.0134
    assert sample_ratio_mismatch(observed).status is ExperimentStatus.OK
    assert sample_ratio_mismatch(observed, threshold=0.05).status is ExperimentStatus.MISMATCH


def test_srm_false_alarm_rate_under_the_planned_split_is_the_threshold() -> None:
    rng = np.random.default_rng(12)
    counts = rng.multinomial(10_000, [0.5, 0.3, 0.2], size=2000)
    alarms = sum(
        sample_ratio_mismatch(row.tolist(), [5, 3, 2], threshold=0.01).status
        is ExperimentStatus.MISMATCH
        for row in counts
    )
    assert 0.004 <= alarms / 2000 <= 0.018


def test_srm_reports_insufficient_data_without_units() -> None:
    result = sample_ratio_mismatch([0, 0])
    assert result.status is ExperimentStatus.INSUFFICIENT_DATA
    assert math.isnan(result.p_value)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"observed": [10]}, "observed"),
        ({"observed": [10, -1]}, "observed"),
        ({"observed": [10.5, 3.0]}, "observed"),
        ({"observed": [10, 20], "allocation": [1.0]}, "allocation"),
        ({"observed": [10, 20], "allocation": [1.0, 0.0]}, "allocation"),
        ({"observed": [10, 20], "threshold": 0.0}, "threshold"),
    ],
)
def test_srm_rejects_bad_parameters(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ParameterError, match=f"'{name}' parameter of sample_ratio_mismatch"):
        sample_ratio_mismatch(**kwargs)  # type: ignore[arg-type]  # mixed kwargs


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=2, max_size=6))
def test_srm_p_value_is_in_the_unit_interval(observed: list[int]) -> None:
    result = sample_ratio_mismatch(observed)
    if sum(observed) == 0:
        assert result.status is ExperimentStatus.INSUFFICIENT_DATA
    else:
        assert 0.0 <= result.p_value <= 1.0
