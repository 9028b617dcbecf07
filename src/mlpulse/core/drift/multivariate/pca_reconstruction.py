"""Multivariate drift from the error of a PCA reconstruction fitted on the reference.

A PCA fitted on the reference learns how its columns move together. Rows of a current
window whose *correlation structure* differs are reconstructed worse, even when every
column's own distribution is unchanged — the shift no univariate check can see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from mlpulse.core.drift.check import MIN_ROWS, Status
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.drift.multivariate.matrix import as_matrix
from mlpulse.errors import InvalidInputError, parameter_error

__all__ = ["DEFAULT_RATIO", "PCAReconstruction", "PCAReconstructionDriftResult"]

# The ratio of mean errors (current / reference) at which the status turns. The
# reference's own error is measured in-sample, so an unshifted window sits a little
# above 1 (by about k/n for k components and n reference rows); 1.25 leaves room for that.
DEFAULT_RATIO: Final = Thresholds(warning=1.25, critical=1.5)


@dataclass(frozen=True, slots=True)
class PCAReconstructionDriftResult:
    """How much worse the reference's PCA reconstructs ``current`` than the reference.

    ``ratio`` is the mean reconstruction error of ``current`` divided by the reference's
    (``value``-like; judged against ``thresholds``). ``p_value`` is the one-sided
    probability of a current mean error at least this large if ``current`` rows were drawn
    like the reference's (normal approximation to the mean of ``n_current`` reference
    errors). ``exceedance`` is the share of current rows whose error is above the
    reference's ``quantile`` per-row error (about ``1 - quantile`` without drift).
    """

    ratio: float
    reference_error: float
    current_error: float
    p_value: float
    exceedance: float
    quantile: float
    n_components: int
    n_reference: int
    n_current: int
    thresholds: Thresholds
    status: Status

    @property
    def drifted(self) -> bool:
        return self.status in (Status.WARNING, Status.CRITICAL)


class PCAReconstruction:
    r"""A PCA of the reference, and the error with which it reconstructs other rows.

    The reference (rows × numeric columns) is standardised with its own column means and
    standard deviations (a constant column gets a scale of 1); a missing value (NaN), in
    the reference or later in ``current``, is replaced by the reference column's mean —
    i.e. 0 after standardising — so it adds no error of its own (its rate is a
    data-quality check). The components kept are the fewest whose explained variance
    reaches ``variance``. A row's error is the mean over columns of its squared residual,

    .. math:: e(x) = \frac{1}{d} \lVert z - V V^\top z \rVert^2,
              \quad z = (x - \mu) / \sigma,

    with :math:`V` the kept components.

    Parameters
    ----------
    reference : array_like, shape (n_rows, n_columns)
        The reference data; at least 2 rows.
    variance : float, default 0.95
        The share of the reference's variance the kept components must explain, in (0, 1].

    Raises
    ------
    ParameterError
        If ``variance`` is not in (0, 1].
    InvalidInputError
        If ``reference`` is not a finite 2-D numeric array with at least 2 rows.

    References
    ----------
    Rabanser, S., Günnemann, S. and Lipton, Z. C. (2019). Failing loudly: an empirical
    study of methods for detecting dataset shift. *NeurIPS 32*.
    NannyML (2022). Data reconstruction with PCA (multivariate drift detection).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=2000)
    >>> noise = rng.normal(size=(2000, 2)) * 0.3
    >>> reference = np.column_stack([x, x]) + noise
    >>> pca = PCAReconstruction(reference)
    >>> pca.n_components
    1
    >>> flipped = np.column_stack([x, -x]) + noise
    >>> pca.error(flipped) > 10 * pca.reference_error
    True
    >>> pca.drift(flipped).status
    <Status.CRITICAL: 'critical'>
    """

    def __init__(self, reference: ArrayLike, *, variance: float = 0.95) -> None:
        if not (isinstance(variance, int | float) and 0.0 < variance <= 1.0):
            raise parameter_error("variance", "PCAReconstruction", "a float in (0, 1]", variance)
        data = as_matrix(reference, name="reference")
        if data.shape[0] < 2:
            raise InvalidInputError(
                f"'reference' must have at least 2 rows to fit a PCA. Got {data.shape[0]}.",
                field="reference",
            )
        present = ~np.isnan(data)
        counts = present.sum(axis=0)
        # A column missing everywhere gets mean 0 (and then scale 1): it carries nothing.
        self._mean = np.where(counts > 0, np.nansum(data, axis=0) / np.maximum(counts, 1), 0.0)
        centred = np.where(present, data - self._mean, 0.0)
        std = np.sqrt((centred**2).sum(axis=0) / np.maximum(counts - 1, 1))
        # A spread within rounding of the mean (a constant column whose mean is off by an
        # ulp) is no spread: dividing by it would blow a current value up to overflow.
        self._scale = np.where(std > 1e-12 * np.abs(self._mean), std, 1.0)
        z = centred / self._scale
        covariance = z.T @ z / (z.shape[0] - 1)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        order = np.argsort(eigenvalues)[::-1]
        eigenvalues = np.clip(eigenvalues[order], 0.0, None)
        total = float(eigenvalues.sum())
        if total > 0:
            explained = np.cumsum(eigenvalues) / total
            # The fewest components reaching the share (a tolerance for rounding at 1.0).
            k = int(np.searchsorted(explained, variance - 1e-12) + 1)
            k = min(k, len(eigenvalues))
            self._explained = float(explained[k - 1])
        else:
            k, self._explained = 0, 1.0
        self._components: NDArray[np.float64] = eigenvectors[:, order[:k]]
        self._variance = float(variance)
        self._reference_errors = self._row_errors(z)

    @property
    def n_components(self) -> int:
        """How many principal components are kept."""
        return int(self._components.shape[1])

    @property
    def explained_variance(self) -> float:
        """The share of the reference's (standardised) variance the kept components explain."""
        return self._explained

    @property
    def reference_errors(self) -> NDArray[np.float64]:
        """The reference's own per-row errors (in-sample; a copy)."""
        return self._reference_errors.copy()

    @property
    def reference_error(self) -> float:
        """The reference's mean per-row error."""
        return float(self._reference_errors.mean())

    def _standardise(self, current: ArrayLike) -> NDArray[np.float64]:
        data = as_matrix(current, name="current", columns=len(self._mean))
        return np.where(np.isnan(data), 0.0, (data - self._mean) / self._scale)

    def _row_errors(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        residual = z - (z @ self._components) @ self._components.T
        errors: NDArray[np.float64] = np.mean(residual**2, axis=1)
        return errors

    def errors(self, current: ArrayLike) -> NDArray[np.float64]:
        """The per-row reconstruction errors of ``current`` (rows × the reference's columns).

        Examples
        --------
        >>> PCAReconstruction([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]).errors([[1.0, 1.0]])
        array([0.])
        """
        return self._row_errors(self._standardise(current))

    def error(self, current: ArrayLike) -> float:
        """The mean squared reconstruction error of ``current`` (NaN when it has no row).

        Examples
        --------
        >>> pca = PCAReconstruction([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
        >>> round(pca.error([[0.0, 2.0]]), 6)
        1.0
        """
        errors = self.errors(current)
        return float(errors.mean()) if errors.size else math.nan

    def drift(
        self,
        current: ArrayLike,
        *,
        thresholds: Thresholds = DEFAULT_RATIO,
        alpha: float = 0.05,
        quantile: float = 0.95,
    ) -> PCAReconstructionDriftResult:
        """Compare the reconstruction error of ``current`` with the reference's own.

        The status follows the ratio of mean errors against ``thresholds``, but stays
        ``ok`` unless the excess is also significant (``p_value < alpha``), so a small
        window with a few unlucky rows does not alarm. Fewer than 5 current rows gives
        ``insufficient_data``.

        Examples
        --------
        >>> rng = np.random.default_rng(1)
        >>> pca = PCAReconstruction(rng.normal(size=(500, 3)), variance=0.5)
        >>> pca.drift(rng.normal(size=(500, 3))).status
        <Status.OK: 'ok'>
        """
        if not (isinstance(alpha, int | float) and 0.0 < alpha < 1.0):
            raise parameter_error("alpha", "PCAReconstruction.drift", "a float in (0, 1)", alpha)
        if not (isinstance(quantile, int | float) and 0.0 < quantile < 1.0):
            raise parameter_error(
                "quantile", "PCAReconstruction.drift", "a float in (0, 1)", quantile
            )
        errors = self.errors(current)
        reference = self._reference_errors
        n_ref, n_cur = len(reference), len(errors)
        if n_cur < MIN_ROWS:
            return PCAReconstructionDriftResult(
                math.nan, float(reference.mean()), math.nan, math.nan, math.nan, quantile,
                self.n_components, n_ref, n_cur, thresholds, Status.INSUFFICIENT_DATA,
            )  # fmt: skip
        reference_error, current_error = float(reference.mean()), float(errors.mean())
        if reference_error > 0:
            ratio = current_error / reference_error
        else:  # Rank-deficient reference reconstructed exactly: any error is new.
            ratio = math.inf if current_error > 0 else 1.0
        spread = float(reference.std(ddof=1)) / math.sqrt(n_cur)
        if spread > 0:
            p_value = float(stats.norm.sf((current_error - reference_error) / spread))
        else:
            p_value = 0.0 if current_error > reference_error else 1.0
        cut = float(np.quantile(reference, quantile))
        exceedance = float(np.mean(errors > cut))
        status = Status.OK
        if p_value < alpha:
            if ratio > thresholds.critical:
                status = Status.CRITICAL
            elif ratio > thresholds.warning:
                status = Status.WARNING
        return PCAReconstructionDriftResult(
            ratio, reference_error, current_error, p_value, exceedance, quantile,
            self.n_components, n_ref, n_cur, thresholds, status,
        )  # fmt: skip
