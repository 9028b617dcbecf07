"""The whole analysis of an experiment (metrics × variants) in one vectorised pass.

From arrays of sufficient statistics (``count``, ``sum``, ``sum_sq`` per metric and
variant, as :func:`~mlpulse.core.experiments.aggregate.aggregate` or a warehouse
``GROUP BY`` gives them), every treatment variant is compared with the control
(variant 0) on every metric at once: Welch's t test (:func:`.welch_t_test`), the
always-valid mSPRT p-value (:func:`.sequential.msprt`), the Bayesian chance to beat
control and expected losses (:func:`.bayesian.normal_means`), p-values adjusted over all
comparisons (:func:`.adjust_p_values`) and the sample ratio check
(:func:`.sample_ratio_mismatch`). Each array entry equals what the scalar function
returns for that pair (the unit tests hold them to it); numpy and ``scipy.special``
ufuncs replace the loop over pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from mlpulse.core.experiments.corrections import Method, benjamini_hochberg, bonferroni, holm
from mlpulse.core.experiments.frequentist import (
    DifferenceResult,
    ExperimentStatus,
    check_alpha,
)
from mlpulse.core.experiments.srm import SrmResult, sample_ratio_mismatch
from mlpulse.errors import InvalidInputError, parameter_error

__all__ = ["ExperimentAnalysis", "analyse_experiment"]

FloatArray = NDArray[np.float64]
_A = TypeVar("_A", bound=NDArray[Any])
_CORRECTIONS = {"bonferroni": bonferroni, "holm": holm, "fdr_bh": benjamini_hochberg}
_SQRT_2PI = math.sqrt(2.0 * math.pi)  # as scipy.stats.norm.pdf


@dataclass(frozen=True, slots=True)
class ExperimentAnalysis:
    """Every treatment against the control, on every metric; read-only arrays.

    ``mean``, ``variance`` and ``count`` have shape (metrics, variants). Every other
    array has shape (metrics, variants - 1): column ``j`` compares variant ``j + 1``
    with variant 0; ``*_ci`` arrays add a last axis (lower, upper). The fields mean what
    they mean in :class:`.DifferenceResult` (``difference`` … ``dof``), in
    :class:`.sequential.MsprtResult` (``msprt_p_value``, ``msprt_ci``) and in
    :class:`.bayesian.BayesianResult` (``chance_to_beat``, ``expected_loss``,
    ``expected_loss_control``).

    ``ok`` is the status mask: False where an arm has fewer than 2 units with the metric
    (``insufficient_data``); every statistic of such a pair is NaN, it is left out of
    the correction and never ``rejected``. Where the variance of the difference is 0
    (constant metric), Welch's test is degenerate (p = 1, or 0 with ±inf statistic) and
    the mSPRT and Bayesian fields are NaN, as their scalar functions report
    ``insufficient_data``. ``adjusted_p_value`` adjusts the Welch p-values of the ``ok``
    pairs together with ``correction``; ``rejected`` is ``adjusted_p_value <= alpha``.
    """

    mean: FloatArray
    variance: FloatArray
    count: NDArray[np.int64]
    difference: FloatArray
    difference_ci: FloatArray
    relative_difference: FloatArray
    relative_ci: FloatArray
    statistic: FloatArray
    p_value: FloatArray
    standard_error: FloatArray
    dof: FloatArray
    adjusted_p_value: FloatArray
    rejected: NDArray[np.bool_]
    msprt_p_value: FloatArray
    msprt_ci: FloatArray
    chance_to_beat: FloatArray
    expected_loss: FloatArray
    expected_loss_control: FloatArray
    ok: NDArray[np.bool_]
    srm: SrmResult
    alpha: float
    correction: Method
    tau2: FloatArray

    def result(self, metric: int, variant: int) -> DifferenceResult:
        """The Welch comparison of ``variant`` (1 or more) with the control on ``metric``."""
        if not 1 <= variant < self.mean.shape[1]:
            raise parameter_error(
                "variant", "result", f"an int in [1, {self.mean.shape[1]})", variant
            )
        j = variant - 1
        status = ExperimentStatus.OK if self.ok[metric, j] else ExperimentStatus.INSUFFICIENT_DATA
        nan = math.nan
        c, t = (float(x) for x in self.mean[metric, [0, variant]])
        return DifferenceResult(
            status, c if self.ok[metric, j] else nan, t if self.ok[metric, j] else nan,
            float(self.difference[metric, j]), _pair(self.difference_ci[metric, j]),
            float(self.relative_difference[metric, j]), _pair(self.relative_ci[metric, j]),
            float(self.statistic[metric, j]), float(self.p_value[metric, j]),
            float(self.standard_error[metric, j]), float(self.dof[metric, j]), self.alpha,
            int(self.count[metric, 0]), int(self.count[metric, variant]),
        )  # fmt: skip


def _pair(values: FloatArray) -> tuple[float, float]:
    return float(values[0]), float(values[1])


def _interval(centre: FloatArray, half: FloatArray) -> FloatArray:
    return np.stack([centre - half, centre + half], axis=-1)


def _read_only(array: _A) -> _A:
    array.flags.writeable = False
    return array


def _statistics(
    n: ArrayLike, count: ArrayLike, sums: ArrayLike, sum_sq: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.int64], FloatArray, FloatArray]:
    units = np.asarray(n)
    if units.ndim != 1 or units.size < 2 or units.dtype.kind not in "iu" or (units < 0).any():
        raise InvalidInputError("'n' must hold 2 or more counts (ints >= 0).", field="n")
    c = np.asarray(count)
    s, q = np.asarray(sums, dtype=np.float64), np.asarray(sum_sq, dtype=np.float64)
    shape = (c.shape[0] if c.ndim == 2 else -1, units.size)
    for name, array in (("count", c), ("sum", s), ("sum_sq", q)):
        if array.shape != shape:
            raise InvalidInputError(
                f"{name!r} must have shape (metrics, {units.size}). Got {array.shape}.", field=name
            )
    if c.dtype.kind not in "iu" or (c < 0).any():
        raise InvalidInputError("'count' must hold ints >= 0.", field="count")
    if not (np.isfinite(s).all() and np.isfinite(q).all() and (q >= 0.0).all()):
        raise InvalidInputError("'sum' and 'sum_sq' must be finite, 'sum_sq' >= 0.", field="sum")
    return units.astype(np.int64), c.astype(np.int64), s, q


def analyse_experiment(
    n: ArrayLike,
    count: ArrayLike,
    sum: ArrayLike,  # shadows the builtin: the statistic's name, as in VariantSums
    sum_sq: ArrayLike,
    *,
    tau2: ArrayLike,
    alpha: float = 0.05,
    correction: Method = "holm",
    allocation: Sequence[float] | None = None,
    srm_threshold: float = 0.001,
) -> ExperimentAnalysis:
    r"""Compare every treatment variant with the control on every metric.

    Parameters
    ----------
    n : array_like of int, shape (variants,)
        Units assigned per variant, for the sample ratio check; variant 0 is the control.
    count, sum, sum_sq : array_like, shape (metrics, variants)
        Units with the metric observed, and the sum and sum of squares of its values.
    tau2 : float or array_like, shape (metrics,)
        The mSPRT mixing variance per metric, in squared units of the metric (see
        :func:`.sequential.msprt`: the square of the effect one hopes to detect).
    alpha : float, default 0.05
        Level of the intervals, the mSPRT confidence sequences and ``rejected``.
    correction : {"holm", "fdr_bh", "bonferroni"}, default "holm"
        Family-wise (Holm, Bonferroni) or false-discovery-rate (Benjamini–Hochberg)
        adjustment over all (metric, variant) comparisons.
    allocation : sequence of float, optional
        Planned weights per variant for the sample ratio check; equal when omitted.
    srm_threshold : float, default 0.001

    Notes
    -----
    The formulas and their sources are those of :func:`.welch_from_moments` (Welch 1947;
    delta method for the lift, Kohavi et al. 2020), :func:`.sequential.msprt` with one
    look (Johari et al. 2017), :func:`.bayesian.normal_means` (flat prior),
    :mod:`.corrections` (Holm 1979; Benjamini and Hochberg 1995) and
    :func:`.sample_ratio_mismatch`. The variance of each arm is
    :math:`(\sum y^2 - (\sum y)^2/n)/(n-1)`, clipped at 0, as :class:`.MeanStats`.

    Examples
    --------
    >>> r = analyse_experiment(
    ...     [1000, 1000], count=[[1000, 1000]], sum=[[10_000.0, 10_300.0]],
    ...     sum_sq=[[104_000.0, 110_000.0]], tau2=0.25)
    >>> round(float(r.p_value[0, 0]), 4), round(float(r.chance_to_beat[0, 0]), 4), r.srm.status
    (0.0008, 0.9996, <ExperimentStatus.OK: 'ok'>)
    """
    owner = "analyse_experiment"
    check_alpha(alpha, owner)
    if correction not in _CORRECTIONS:
        raise parameter_error("correction", owner, "one of " + ", ".join(_CORRECTIONS), correction)
    units, counts, s, q = _statistics(n, count, sum, sum_sq)
    t2 = np.asarray(tau2, dtype=np.float64)
    t2 = np.full(counts.shape[0], float(t2)) if t2.ndim == 0 else t2.copy()
    if t2.shape != (counts.shape[0],) or not (np.isfinite(t2) & (t2 > 0.0)).all():
        expected = f"a float, or {counts.shape[0]} floats (one per metric), in (0, inf)"
        raise parameter_error("tau2", owner, expected, tau2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mean = np.where(counts > 0, s / counts, np.nan)
        variance = np.maximum(
            np.where(counts >= 2, (q - s * s / counts) / (counts - 1), np.nan), 0.0
        )
        welch = _welch(mean, variance, counts, alpha)
        ok = welch.ok
        difference = np.where(ok, mean[:, 1:] - mean[:, :1], np.nan)
        msprt_p, msprt_ci = _msprt(difference, welch.variance, t2[:, None], alpha)
        bayes = _normal_means(difference, welch.se)
    p_value = welch.p_value
    adjusted = np.full(p_value.shape, np.nan)
    if ok.any():
        adjusted[ok] = _CORRECTIONS[correction](p_value[ok])
    srm = sample_ratio_mismatch(units.tolist(), allocation, threshold=srm_threshold)
    return ExperimentAnalysis(
        mean=_read_only(mean), variance=_read_only(variance), count=_read_only(counts),
        difference=_read_only(difference), difference_ci=welch.difference_ci,
        relative_difference=welch.relative, relative_ci=welch.relative_ci,
        statistic=welch.statistic, p_value=p_value, standard_error=welch.se,
        dof=welch.dof, adjusted_p_value=_read_only(adjusted),
        rejected=_read_only(ok & (adjusted <= alpha)), msprt_p_value=msprt_p, msprt_ci=msprt_ci,
        chance_to_beat=bayes[0], expected_loss=bayes[1], expected_loss_control=bayes[2],
        ok=ok, srm=srm, alpha=alpha, correction=correction, tau2=_read_only(t2),
    )  # fmt: skip


class _Welch(NamedTuple):
    ok: NDArray[np.bool_]
    variance: FloatArray  # of the difference, a + b, NaN where not ok
    se: FloatArray
    difference_ci: FloatArray
    relative: FloatArray
    relative_ci: FloatArray
    statistic: FloatArray
    p_value: FloatArray
    dof: FloatArray


def _welch(
    mean: FloatArray, variance: FloatArray, count: NDArray[np.int64], alpha: float
) -> _Welch:
    """:func:`.welch_from_moments` per pair, operation for operation."""
    n_c, n_t = count[:, :1], count[:, 1:]
    m_c, m_t = mean[:, :1], mean[:, 1:]
    ok = (n_c >= 2) & (n_t >= 2)
    a, b = variance[:, :1] / n_c, variance[:, 1:] / n_t
    difference = m_t - m_c
    total = a + b
    flat = total == 0.0  # no variance at all: the degenerate test of welch_from_moments
    share_a, share_b = a / total, b / total
    dof = 1.0 / (share_a * share_a / (n_c - 1) + share_b * share_b / (n_t - 1))
    dof[flat] = np.nan
    se = np.sqrt(total)
    statistic = np.where(flat, np.copysign(np.inf, difference), difference / se)
    statistic[flat & (difference == 0.0)] = 0.0
    p_value = np.clip(2.0 * special.stdtr(dof, -np.abs(statistic)), 0.0, 1.0)
    p_value[flat] = difference[flat] == 0.0
    quantile = np.where(flat, 0.0, special.stdtrit(dof, 1.0 - alpha / 2.0))
    ratio = m_t / m_c
    relative = ratio - 1.0
    # As frequentist.relative_change: no square of the control mean or of the ratio.
    se_rel = np.hypot(np.sqrt(b), ratio * np.sqrt(a)) / np.abs(m_c)
    relative_ci = _interval(relative, quantile * se_rel)
    # Over a zero control mean, or past the float range: no relative difference.
    no_control = np.broadcast_to(~np.isfinite(ratio), relative.shape)
    relative[no_control] = np.nan
    relative_ci[no_control] = np.nan
    difference_ci = _interval(difference, quantile * se)
    for value in (total, se, difference_ci, relative, relative_ci, statistic, p_value, dof):
        value[~ok] = np.nan
        value.flags.writeable = False
    ok.flags.writeable = False
    return _Welch(ok, total, se, difference_ci, relative, relative_ci, statistic, p_value, dof)


def _msprt(
    difference: FloatArray, variance: FloatArray, tau2: FloatArray, alpha: float
) -> tuple[FloatArray, FloatArray]:
    """:func:`.sequential.msprt` at one look; NaN where it reports ``insufficient_data``."""
    valid = np.isfinite(difference) & np.isfinite(variance) & (variance > 0.0)
    v = np.where(valid, variance, 1.0)
    theta = np.where(valid, difference, 0.0)
    # As in .sequential.msprt: no intermediate squares a variance (it could overflow).
    log_lr = 0.5 * np.log(v / (v + tau2)) + tau2 / (2.0 * (v + tau2)) * (theta / np.sqrt(v)) ** 2
    p_value = np.where(valid, np.minimum(1.0, np.exp(-log_lr)), np.nan)
    half = np.sqrt(v) * np.sqrt(
        (v + tau2) / tau2 * (2.0 * math.log(1.0 / alpha) + np.log1p(tau2 / v))
    )
    ci = np.where(valid[..., None], _interval(theta, half), np.nan)
    return _read_only(p_value), _read_only(ci)


def _normal_means(delta: FloatArray, s: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Chance to beat and expected losses of :func:`.bayesian.normal_means`, per pair."""
    invalid = ~((s > 0.0) & np.isfinite(s) & np.isfinite(delta))
    z = delta / s
    density = np.exp(-(z**2) / 2.0) / _SQRT_2PI  # scipy.stats.norm.pdf, without its overhead
    chance = special.ndtr(z)
    loss = s * density - delta * special.ndtr(-z)
    loss_control = s * density + delta * chance
    for value in (chance, loss, loss_control):
        value[invalid] = np.nan
    return _read_only(chance), _read_only(loss), _read_only(loss_control)
