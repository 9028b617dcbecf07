"""Multivariate and embedding drift: each method flags the shifts it is made for, only those."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlpulse.core.drift.check import Status, column_drift
from mlpulse.core.drift.multivariate import (
    PCAReconstruction,
    domain_classifier_auc,
    label_drift,
    mmd,
    score_drift,
)
from mlpulse.core.drift.multivariate.mmd import _squared_distances
from mlpulse.errors import InvalidInputError, ParameterError


def _correlated(n: int, rho: float, seed: int, extra: int = 0) -> np.ndarray:
    """Two standard normal columns with correlation ``rho`` (same marginals for any rho),
    then ``extra`` independent ones."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=n)
    return np.column_stack([x, y, rng.normal(size=(n, extra))])


# --- PCA reconstruction ---------------------------------------------------------------


def test_pca_reconstruction_flags_flipped_correlation_when_marginals_are_unchanged() -> None:
    reference = _correlated(3000, 0.9, seed=0)
    current = _correlated(3000, -0.9, seed=1)
    for j in range(2):  # No univariate check sees it...
        assert not column_drift(reference[:, j], current[:, j], kind="numeric").drifted
    pca = PCAReconstruction(reference)
    result = pca.drift(current)  # ...the reconstruction does.
    assert pca.n_components == 1
    assert result.status == Status.CRITICAL
    assert result.ratio > 10
    assert result.p_value < 1e-6
    assert result.exceedance > 0.5


def test_pca_reconstruction_is_silent_when_correlation_is_unchanged() -> None:
    pca = PCAReconstruction(_correlated(3000, 0.9, seed=0, extra=0))
    result = pca.drift(_correlated(3000, 0.9, seed=1))
    assert result.status == Status.OK
    assert 0.85 < result.ratio < 1.15
    assert 0.02 < result.exceedance < 0.08


def test_pca_reconstruction_keeps_the_fewest_components_reaching_the_variance() -> None:
    reference = _correlated(2000, 0.9, seed=0, extra=2)  # eigenvalues ≈ 1.9, 1, 1, 0.1
    assert PCAReconstruction(reference, variance=0.45).n_components == 1
    assert PCAReconstruction(reference, variance=0.95).n_components == 3
    full = PCAReconstruction(reference, variance=1.0)
    assert full.n_components == 4
    assert full.error(reference) == pytest.approx(0.0, abs=1e-20)


def test_pca_reconstruction_imputes_missing_values_with_the_reference_mean() -> None:
    reference = _correlated(1000, 0.9, seed=0) * [2.0, 3.0] + [10.0, -5.0]
    pca = PCAReconstruction(reference)
    # The mean itself, written as a NaN or as the value, is reconstructed exactly.
    errors = pca.errors([[np.nan, np.nan], [10.0, np.nan]])
    assert errors[0] == pytest.approx(0.0, abs=1e-12)
    mean = reference.mean(axis=0)
    assert errors[1] == pytest.approx(pca.errors([[10.0, mean[1]]])[0])
    with_nan = reference.copy()
    with_nan[::10, 0] = np.nan
    assert np.isfinite(PCAReconstruction(with_nan).reference_error)


def test_pca_reconstruction_reports_insufficient_data_for_a_tiny_window() -> None:
    pca = PCAReconstruction(_correlated(200, 0.9, seed=0))
    result = pca.drift(_correlated(3, -0.9, seed=1))
    assert result.status == Status.INSUFFICIENT_DATA
    assert not result.drifted


def test_pca_reconstruction_validation_errors_name_the_argument() -> None:
    with pytest.raises(ParameterError, match="'variance' parameter of PCAReconstruction"):
        PCAReconstruction(np.zeros((10, 2)), variance=1.5)
    with pytest.raises(InvalidInputError) as exc_info:
        PCAReconstruction(np.zeros(10))
    assert exc_info.value.field == "reference"
    with pytest.raises(InvalidInputError) as exc_info:
        PCAReconstruction([[1.0, np.inf], [0.0, 0.0]])
    assert exc_info.value.field == "reference"
    pca = PCAReconstruction(_correlated(100, 0.5, seed=0))
    with pytest.raises(InvalidInputError) as exc_info:
        pca.error(np.zeros((5, 3)))
    assert exc_info.value.field == "current"
    with pytest.raises(ParameterError, match="'alpha'"):
        pca.drift(np.zeros((5, 2)), alpha=0.0)


# --- domain classifier ----------------------------------------------------------------


def test_domain_classifier_auc_is_near_half_when_unshifted() -> None:
    result = domain_classifier_auc(
        _correlated(2000, 0.5, seed=0, extra=3), _correlated(2000, 0.5, seed=1, extra=3)
    )
    assert result.auc == pytest.approx(0.5, abs=0.04)
    assert result.status == Status.OK
    assert result.n_reference == result.n_current == 2000
    assert 0.0 <= result.auc_std < 0.05


def test_domain_classifier_auc_flags_a_mean_shift_and_names_the_feature() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(1500, 4))
    current = rng.normal(size=(1500, 4)) + np.array([0.0, 0.0, 1.0, 0.0])
    result = domain_classifier_auc(reference, current, folds=3, feature_names=["a", "b", "c", "d"])
    assert result.status == Status.CRITICAL
    assert result.auc > 0.7
    assert result.top_features[0][0] == "c"


def test_domain_classifier_auc_flags_flipped_correlation() -> None:
    result = domain_classifier_auc(
        _correlated(1500, 0.9, seed=0), _correlated(1500, -0.9, seed=1), folds=3
    )
    assert result.status == Status.CRITICAL
    assert {name for name, _ in result.top_features} == {"0", "1"}


def test_domain_classifier_auc_is_deterministic_for_a_seed_and_balances_rows() -> None:
    reference = _correlated(900, 0.5, seed=0)
    current = _correlated(400, 0.2, seed=1)
    first = domain_classifier_auc(reference, current, folds=3, seed=7, max_rows=600)
    second = domain_classifier_auc(reference, current, folds=3, seed=7, max_rows=600)
    assert first == second
    assert first.n_reference == first.n_current == 300


def test_domain_classifier_auc_reports_insufficient_data_for_a_tiny_window() -> None:
    result = domain_classifier_auc(_correlated(100, 0.5, seed=0), _correlated(3, 0.5, seed=1))
    assert result.status == Status.INSUFFICIENT_DATA
    assert np.isnan(result.auc)


def test_domain_classifier_auc_validation_errors_name_the_argument() -> None:
    data = np.zeros((20, 2))
    with pytest.raises(ParameterError, match="'folds' parameter of domain_classifier_auc"):
        domain_classifier_auc(data, data, folds=1)
    with pytest.raises(ParameterError, match="'max_rows'"):
        domain_classifier_auc(data, data, max_rows=3)
    with pytest.raises(ParameterError, match="'seed'"):
        domain_classifier_auc(data, data, seed=1.5)  # type: ignore[arg-type]  # the point
    with pytest.raises(ParameterError, match="'feature_names'"):
        domain_classifier_auc(data, data, feature_names=["only one"])
    with pytest.raises(InvalidInputError) as exc_info:
        domain_classifier_auc(data, np.zeros((20, 3)))
    assert exc_info.value.field == "current"


# --- MMD ------------------------------------------------------------------------------


def _embeddings(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, 64))
    rows[:, :5] += shift
    return rows


def test_mmd_is_not_small_when_embeddings_are_unshifted() -> None:
    result = mmd(_embeddings(600, seed=0), _embeddings(600, seed=1))
    assert result.p_value > 0.05
    assert result.status == Status.OK


def test_mmd_flags_a_small_mean_shift_in_a_few_dimensions() -> None:
    result = mmd(_embeddings(600, seed=0), _embeddings(600, seed=1, shift=0.3))
    assert result.p_value < 0.01
    assert result.status == Status.CRITICAL
    assert result.statistic > 0


def test_mmd_statistic_matches_the_unbiased_formula() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 4)), rng.normal(0.5, 1.0, size=(20, 4))
    result = mmd(x, y, bandwidth=1.5, n_permutations=10)
    kernel = np.exp(-_squared_distances(np.vstack([x, y])) / (2 * 1.5**2))
    kxx, kyy, kxy = kernel[:30, :30], kernel[30:, 30:], kernel[:30, 30:]
    expected = (kxx.sum() - 30) / (30 * 29) + (kyy.sum() - 20) / (20 * 19) - 2 * kxy.mean()
    assert result.statistic == pytest.approx(expected, rel=1e-9)
    assert result.bandwidth == 1.5


def test_mmd_is_deterministic_for_a_seed_and_subsamples_to_max_rows() -> None:
    x, y = _embeddings(300, seed=0), _embeddings(250, seed=1, shift=0.1)
    first = mmd(x, y, seed=5, max_rows=200, n_permutations=50)
    assert first == mmd(x, y, seed=5, max_rows=200, n_permutations=50)
    assert (first.n_reference, first.n_current) == (200, 200)
    assert 1 / 51 <= first.p_value <= 1.0


def test_mmd_drops_rows_with_missing_values_and_reports_insufficient_data() -> None:
    x = _embeddings(20, seed=0)
    y = _embeddings(6, seed=1)
    y[:2, 3] = np.nan
    result = mmd(x, y, n_permutations=10)
    assert result.n_current == 4
    assert result.status == Status.INSUFFICIENT_DATA
    assert np.isnan(result.p_value)


def test_mmd_validation_errors_name_the_argument() -> None:
    x = np.zeros((10, 3))
    with pytest.raises(ParameterError, match="'n_permutations' parameter of mmd"):
        mmd(x, x, n_permutations=0)
    with pytest.raises(ParameterError, match="'max_rows'"):
        mmd(x, x, max_rows=2)
    with pytest.raises(ParameterError, match="'bandwidth'"):
        mmd(x, x, bandwidth=-1.0)
    with pytest.raises(ParameterError, match="'seed'"):
        mmd(x, x, seed=-1)
    with pytest.raises(InvalidInputError) as exc_info:
        mmd(x, np.zeros((10, 4)))
    assert exc_info.value.field == "current"
    with pytest.raises(InvalidInputError) as exc_info:
        mmd(np.zeros(10), x)
    assert exc_info.value.field == "reference"


# --- model-level drift ----------------------------------------------------------------


def test_score_drift_flags_shifted_scores_only() -> None:
    rng = np.random.default_rng(0)
    reference = rng.beta(2, 5, 3000)
    assert not score_drift(reference, rng.beta(2, 5, 3000)).drifted
    result = score_drift(reference, rng.beta(3, 4, 3000))
    assert result.drifted
    assert (result.column, result.kind) == ("score", "numeric")


def test_label_drift_flags_a_changed_class_balance_only() -> None:
    rng = np.random.default_rng(0)
    reference = rng.choice(["cat", "dog"], p=[0.5, 0.5], size=3000)
    assert not label_drift(reference, rng.choice(["cat", "dog"], p=[0.5, 0.5], size=3000)).drifted
    result = label_drift(reference, rng.choice(["cat", "dog"], p=[0.7, 0.3], size=3000))
    assert result.drifted
    assert (result.column, result.kind) == ("label", "categorical")


def test_importing_multivariate_does_not_load_scikit_learn() -> None:
    # The domain classifier's names are loaded on first use (this module already did).
    code = "import sys, mlpulse.core.drift.multivariate; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


_MATRICES = st.integers(5, 30).flatmap(
    lambda n: arrays(
        np.float64, (n, 3), elements=st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False)
    )
)


_TINY = np.full((12, 3), 8.65298679e-147)  # constant: its mean is off by rounding


@settings(max_examples=40, deadline=None)
@given(reference=_MATRICES, current=_MATRICES)
# Found by hypothesis: a spread of rounding error taken as a scale (PCA), and a median
# of cancellation residues taken as the kernel's bandwidth (MMD), both overflowing.
@example(reference=_TINY[:11], current=np.array([[0.0, 1, 1], *[[1.0, 1, 1]] * 4]))
@example(reference=np.full((5, 3), 4.0), current=_TINY)
def test_multivariate_statistics_stay_in_range_for_any_data(
    reference: np.ndarray, current: np.ndarray
) -> None:
    result = mmd(reference, current, n_permutations=19)
    assert 1 / 20 <= result.p_value <= 1.0
    pca = PCAReconstruction(reference)
    errors = pca.errors(current)
    assert np.all(np.isfinite(errors))
    assert np.all(errors >= 0)
    assert 0.0 <= pca.drift(current).p_value <= 1.0
