"""Maximum mean discrepancy (MMD) with a permutation test, for embedding columns."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlpulse.core.drift.check import MIN_ROWS, Status
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.drift.multivariate.matrix import as_matrix, subsample
from mlpulse.errors import parameter_error

__all__ = ["DEFAULT_MAX_ROWS", "MMDResult", "mmd"]

# Rows kept per side. The kernel matrix of the pooled rows is (2 x 1000)^2 floats (32 MB)
# and one batch of permutations is a matrix product with it: about 0.1 s for 200.
DEFAULT_MAX_ROWS: Final = 1000
_P_VALUE: Final = Thresholds(warning=0.05, critical=0.01)
# Permutations are evaluated this many at a time, to bound memory.
_BATCH: Final = 100


@dataclass(frozen=True, slots=True)
class MMDResult:
    """The unbiased squared MMD of two samples of vectors and its permutation p-value.

    ``statistic`` is the unbiased estimate of MMD² (it can be slightly negative without
    drift). ``bandwidth`` is the RBF kernel's σ. The sizes count the rows used (after
    rows with NaN were dropped and both sides subsampled to ``max_rows``). ``status``
    judges ``p_value`` against ``thresholds`` (smaller is worse).
    """

    statistic: float
    p_value: float
    bandwidth: float
    n_permutations: int
    n_reference: int
    n_current: int
    thresholds: Thresholds
    status: Status

    @property
    def drifted(self) -> bool:
        return self.status in (Status.WARNING, Status.CRITICAL)


def _squared_distances(rows: NDArray[np.float64]) -> NDArray[np.float64]:
    norms = np.einsum("ij,ij->i", rows, rows)
    distances = norms[:, None] + norms[None, :] - 2.0 * (rows @ rows.T)
    np.fill_diagonal(distances, 0.0)
    # |a|² + |b|² - 2a·b cancels: what is left under rounding of the norms is no distance
    # (else a median of such residues makes a bandwidth that overflows the kernel).
    noise = 1e-12 * (norms[:, None] + norms[None, :])
    clipped: NDArray[np.float64] = np.where(distances > noise, distances, 0.0)
    return clipped


def _median_bandwidth(squared: NDArray[np.float64]) -> float:
    upper = squared[np.triu_indices(squared.shape[0], k=1)]
    positive = upper[upper > 0]
    if positive.size == 0:  # Every row the same: any bandwidth gives the same answer.
        return 1.0
    return math.sqrt(float(np.median(positive)))


def _unbiased_mmd2(
    kernel: NDArray[np.float64], groups: NDArray[np.float64], n: int, m: int
) -> NDArray[np.float64]:
    """MMD²_u for each column of ``groups`` (1.0 marks a reference row, 0.0 a current row).

    With u the indicator, r = K 1 and T = 1ᵀ K 1 (and k(x, x) = 1 on the diagonal):
    Σ_xx = uᵀKu − n, Σ_xy = uᵀr − uᵀKu, Σ_yy = T − 2 uᵀr + uᵀKu − m.
    """
    row_sums = kernel.sum(axis=1)
    total = float(row_sums.sum())
    within = np.einsum("ij,ij->j", groups, kernel @ groups)
    to_rows = row_sums @ groups
    xx = (within - n) / (n * (n - 1))
    yy = (total - 2.0 * to_rows + within - m) / (m * (m - 1))
    xy = (to_rows - within) / (n * m)
    result: NDArray[np.float64] = xx + yy - 2.0 * xy
    return result


def mmd(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    n_permutations: int = 200,
    seed: int = 0,
    max_rows: int = DEFAULT_MAX_ROWS,
    bandwidth: float | None = None,
    thresholds: Thresholds = _P_VALUE,
) -> MMDResult:
    r"""Maximum mean discrepancy between two samples of vectors, with a permutation test.

    .. math:: \mathrm{MMD}^2_u = \frac{1}{n(n-1)}\sum_{i \ne j} k(x_i, x_j)
              + \frac{1}{m(m-1)}\sum_{i \ne j} k(y_i, y_j)
              - \frac{2}{nm}\sum_{i, j} k(x_i, y_j),
              \quad k(a, b) = \exp\!\left(-\frac{\lVert a - b\rVert^2}{2\sigma^2}\right),

    with σ the median distance between the pooled rows (the median heuristic) unless
    ``bandwidth`` is given. The p-value is ``(1 + #{permuted ≥ observed}) /
    (1 + n_permutations)``, the permutations reassigning the pooled rows to two groups
    of the same sizes; so it is never below ``1 / (1 + n_permutations)``.

    Rows holding a NaN are dropped. For cost, each side is subsampled (without
    replacement, with ``seed``) to at most ``max_rows`` rows: the work grows as
    ``(2 max_rows)² × (dimensions + n_permutations)``.

    Parameters
    ----------
    reference, current : array_like, shape (n_rows, dimensions)
        Embedding vectors, one per row; both with the same number of dimensions.
    n_permutations : int, default 200
        Permutations of the test, in [1, 100000].
    seed : int, default 0
        Seeds the subsampling and the permutations; the result is deterministic for it.
    max_rows : int, default 1000
        The most rows used per side, at least 5.
    bandwidth : float, optional
        The kernel's σ (> 0); the median heuristic when not given.
    thresholds : Thresholds, default warning 0.05, critical 0.01
        Where the p-value turns the status to warning and critical.

    Returns
    -------
    MMDResult
        ``insufficient_data`` (statistic and p-value NaN) when either side has fewer
        than 5 rows.

    References
    ----------
    Gretton, A., Borgwardt, K. M., Rasch, M. J., Schölkopf, B. and Smola, A. (2012).
    A kernel two-sample test. *Journal of Machine Learning Research* 13, 723–773.
    Rabanser, S., Günnemann, S. and Lipton, Z. C. (2019). Failing loudly: an empirical
    study of methods for detecting dataset shift. *NeurIPS 32*.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> reference = rng.normal(size=(200, 8))
    >>> mmd(reference, rng.normal(size=(200, 8)), n_permutations=99).p_value > 0.05
    True
    >>> mmd(reference, rng.normal(1.0, 1.0, size=(200, 8)), n_permutations=99).p_value
    0.01
    """
    owner = "mmd"
    if not (isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0):
        raise parameter_error("seed", owner, "an int in [0, inf)", seed)
    if not (isinstance(n_permutations, int) and 1 <= n_permutations <= 100_000):
        raise parameter_error("n_permutations", owner, "an int in [1, 100000]", n_permutations)
    if not (isinstance(max_rows, int) and max_rows >= MIN_ROWS):
        raise parameter_error("max_rows", owner, f"an int in [{MIN_ROWS}, inf)", max_rows)
    if bandwidth is not None and not (
        isinstance(bandwidth, int | float) and math.isfinite(bandwidth) and bandwidth > 0
    ):
        raise parameter_error("bandwidth", owner, "a float in (0, inf) or None", bandwidth)
    ref = as_matrix(reference, name="reference")
    cur = as_matrix(current, name="current", columns=ref.shape[1])
    ref = ref[~np.isnan(ref).any(axis=1)]
    cur = cur[~np.isnan(cur).any(axis=1)]
    rng = np.random.default_rng(seed)
    ref = subsample(ref, max_rows, rng)
    cur = subsample(cur, max_rows, rng)
    n, m = ref.shape[0], cur.shape[0]
    if min(n, m) < MIN_ROWS:
        return MMDResult(
            math.nan, math.nan, math.nan, n_permutations, n, m, thresholds,
            Status.INSUFFICIENT_DATA,
        )  # fmt: skip
    squared = _squared_distances(np.vstack([ref, cur]))
    sigma = float(bandwidth) if bandwidth is not None else _median_bandwidth(squared)
    kernel = np.exp(squared / (-2.0 * sigma * sigma))
    observed_groups = np.zeros((n + m, 1))
    observed_groups[:n] = 1.0
    observed = float(_unbiased_mmd2(kernel, observed_groups, n, m)[0])
    exceed = 0
    for start in range(0, n_permutations, _BATCH):
        size = min(_BATCH, n_permutations - start)
        groups = np.zeros((n + m, size))
        for j in range(size):
            groups[rng.permutation(n + m)[:n], j] = 1.0
        # A tolerance so permutations equal to the observed value (up to rounding) count.
        exceed += int(np.sum(_unbiased_mmd2(kernel, groups, n, m) >= observed - 1e-12))
    p_value = (1 + exceed) / (1 + n_permutations)
    if p_value < thresholds.critical:
        status = Status.CRITICAL
    elif p_value < thresholds.warning:
        status = Status.WARNING
    else:
        status = Status.OK
    return MMDResult(observed, p_value, sigma, n_permutations, n, m, thresholds, status)
