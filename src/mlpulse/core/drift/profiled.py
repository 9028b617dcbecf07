"""Column drift from two mergeable profiles, without the raw data.

A monitor keeps one :class:`~mlpulse.core.profiles.Profile` per minute and merges them
into windows; this module measures drift between two such column profiles and returns
the same :class:`~mlpulse.core.drift.check.ColumnDriftResult` as
:func:`~mlpulse.core.drift.check.column_drift` on raw data.

Numeric columns (from the KLL sketches and the exact moments of
:class:`~mlpulse.core.profiles.NumericProfile`):

- ``ks``: the statistic ``max |F_ref(x) - F_cur(x)|`` over the union of both sketches'
  quantiles at 2,001 ranks; the p-value is the asymptotic one,
  ``scipy.stats.kstwo.sf(D, round(n m / (n + m)))`` (the exact small-sample path needs
  the raw values);
- ``wasserstein``: ``∫ |Q_ref(u) - Q_cur(u)| du`` by the midpoint rule on 500 ranks
  of the body ``[a, 1 - a]`` (``a`` = the sketch's rank error), plus the tails' share
  of the exact mean difference (see ``_wasserstein``), divided by the reference
  standard deviation (exact, from the profile's moments). With 2,000 ranks instead
  of 1,000 the value moves by at most 0.0007 sd on the columns measured below, and
  with 1,000 instead of 500 by at most 0.0022 sd (normal, lognormal and bimodal
  columns of 6e3, 1e5 and 1e6 rows, unshifted and shifted by 0.2; the largest on
  unshifted lognormal 1e6), far below the sketches' noise floor, so the figures below
  (taken at 2,000) stand; each halving halves the quantile reads, the evaluator's
  largest cost per numeric column;
- ``psi``: bins cut at the reference sketch's deciles, shares from both sketches' CDFs
  (a value equal to a cut point belongs to the bin above, as on raw data).

Categorical columns: the methods of :data:`~mlpulse.core.drift.methods.CATEGORICAL`.
While both profiles are exact (at most ``exact_limit`` categories) they run on the exact
counts, as on raw data, so the value equals the library's. Once either profile keeps a
frequent-items sketch instead, each profile lists a different set of frequent items (a
category near the sketch's threshold is listed by one and not the other, and merged
minute profiles list other items than one profile of the same rows), so the listed
counts are not compared as they are: the categories either profile lists are read from
*both* profiles (:meth:`~mlpulse.core.profiles.CategoricalProfile.estimates`, within
half the sketch's own error), and :func:`~mlpulse.core.drift.categorical.comparable_bins`
keeps on their own only those whose counts that error cannot blur (expected at least 5
rows and ``min(10 × error, error²)`` on each side), up to the bins the sample sizes
carry; every other row of each side, listed or not, is one ``__other__`` bin, compared
as a share like any bin.

Before this, the unlisted rows were one category and an item listed on one side only
read 0 on the other: an unshifted 30,000-category Zipf(1.0) column read 0.12-0.126
from 60 merged minute profiles against one profile of the reference rows. It now reads
0.004-0.064 over 5e3-1e6 rows (library mode: 0.02-0.06), and a swap of the top
categories' shares or one new category at 8% of rows reads 0.19-0.27 on both.

What it cannot see: categories new to the reference that are each too rare to be
counted within that error (5% of rows over 100 new categories of a 30,000-category
column at 1e6 rows, 500 rows each, where the sketch's error is 240-370 rows: 0.02-0.05,
not flagged) only move the ``__other__`` share. Library mode (from 1e5 rows: 0.16-0.17)
and exact profiles (at most 1,000 categories: 0.16, as in library mode) see them,
through their own bins or the Good-Turing ``__new__`` bin.

Measured error against the same method on the raw data (k = 200, rank error 1.33%;
normal / lognormal / bimodal columns of 1e5 and 1e6 rows, unshifted and shifted by
0.2, three draws of data and sketches each, as in ``tests/unit/core/test_profiled_drift.py``;
the KLL sketch compacts at random, so two profiles of the same data differ slightly):

- KS statistic: at most 0.014 absolute (bound asserted: 2 × rank error = 0.027);
- normalised Wasserstein, no drift (exact 0.001–0.007 sd): the profiles read at most
  0.048 sd higher — the sketches' noise floor, half the 0.1 warning threshold
  (bound asserted: 0.08);
- normalised Wasserstein, drift (exact 0.16–0.36 sd): relative error 0.0% in 15 of 18
  cases, 4–6% in two, 12% once (normal, 1e5 rows: sketch noise near the body's edges
  turns some quantile gaps negative); a wider run with scale changes (normal and
  lognormal sd × 1.3) stayed within 6.4%; one CI run saw 17% (normal, 1e6 rows): the
  sketch's compaction is random and cannot be seeded from Python (bound asserted: 35%);
- PSI: at most 0.015 absolute;
- Jensen–Shannon on categorical columns: identical to the raw value while the profiles
  are exact (up to 1,000 categories); beyond, within 0.035 of library mode on the same
  rows (30,000-category Zipf columns, 60 merged minute profiles, 5e3 to 1e6 rows,
  ``tests/integration/test_server_library_agreement.py``);
- the verdict (drifted or not) of every column of the 25-column synthetic set of
  ``test_drift_check.py`` matches the raw-data verdict at 1e5 and 1e6 rows.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from mlpulse.core.drift.categorical import (
    chi_square,
    unseen_categories,
)
from mlpulse.core.drift.categorical.binning import comparable_vectors
from mlpulse.core.drift.categorical.jensen_shannon import jensen_shannon_of_vectors
from mlpulse.core.drift.check import MIN_ROWS, ColumnCheck, ColumnDriftResult, Kind, drift_status
from mlpulse.core.drift.methods import CATEGORICAL, NUMERIC, Group, choose_method
from mlpulse.core.drift.numeric.binning import smoothed
from mlpulse.core.profiles import CategoricalProfile, NumericProfile
from mlpulse.core.profiles.numeric import Ranks
from mlpulse.errors import parameter_error

__all__ = ["PROFILE_METHODS", "column_drift_from_profiles"]

# Ranks at which the quantile functions are read (KS grid, Wasserstein midpoints).
_KS_RANKS: Final = np.linspace(0.0, 1.0, 2001)
_W_RANKS: Final = (np.arange(500) + 0.5) / 500
_PSI_BINS: Final = 10

PROFILE_METHODS: Final = {
    "numeric": ("ks", "psi", "wasserstein"),
    "categorical": tuple(CATEGORICAL),
}
"""The methods :func:`column_drift_from_profiles` computes, by profile kind."""


def _ks(reference: NumericProfile, current: NumericProfile) -> tuple[float, dict[str, Any]]:
    grid = np.unique(np.concatenate((reference.quantiles(_KS_RANKS), current.quantiles(_KS_RANKS))))
    statistic = float(np.max(np.abs(reference.cdf(grid) - current.cdf(grid))))
    n, m = reference.finite_count, current.finite_count
    p_value = float(stats.kstwo.sf(statistic, round(n * m / (n + m))))
    return min(max(p_value, 0.0), 1.0), {"statistic": statistic}


@functools.lru_cache(maxsize=16)
def _body_ranks(a: float) -> Ranks:
    """The midpoint ranks of the body [a, 1 - a], checked once (see :class:`Ranks`)."""
    return Ranks((a + (1.0 - 2.0 * a) * _W_RANKS).tolist())


def _wasserstein(
    reference: NumericProfile, current: NumericProfile
) -> tuple[float, dict[str, Any]]:
    # The sketch's extreme quantiles are its weakest: within ``rank_error`` of rank 0 or 1
    # a sketch quantile may be any value of the far tail, and a heavy tail turns that into
    # large quantile gaps (0.13 sd on two unshifted lognormal samples). So the quantile
    # functions are compared on the body [a, 1 - a], a = the rank error, and the tails
    # are given the signed rest of the exact mean difference,
    # (mean_cur - mean_ref) - ∫_body (Q_cur - Q_ref) du: exact when the gap keeps its
    # sign across the tails (a shift, a heavier tail), a lower bound otherwise.
    a = max(reference.rank_error, current.rank_error)
    ranks = _body_ranks(a)
    gaps = current.quantiles(ranks) - reference.quantiles(ranks)
    # sum / size is what np.mean computes (the same float), without its overhead
    body = (1.0 - 2.0 * a) * (float(np.abs(gaps).sum()) / gaps.size)
    tails = (current.mean - reference.mean) - (1.0 - 2.0 * a) * (float(gaps.sum()) / gaps.size)
    distance = body + abs(tails)
    scale = math.sqrt(reference.variance())
    if scale > 0.0:
        distance /= scale
    return distance, {"normalized": True}


def _shares(profile: NumericProfile, edges: NDArray[np.float64]) -> NDArray[np.float64]:
    # cdf() counts values <= x; at the float just below each edge it counts values < edge,
    # so a value equal to a cut point lands in the bin above it, as in numeric.binning.
    below = profile.cdf(np.nextafter(edges, -np.inf))[:-1]
    shares: NDArray[np.float64] = np.diff(below, prepend=0.0, append=1.0)
    return np.clip(shares, 0.0, None)


def _psi(reference: NumericProfile, current: NumericProfile) -> tuple[float, dict[str, Any]]:
    edges = np.unique(reference.quantiles(np.arange(1, _PSI_BINS) / _PSI_BINS))
    r, c = smoothed(_shares(reference, edges)), smoothed(_shares(current, edges))
    return float(np.sum((c - r) * np.log(c / r))), {}


_NUMERIC: Final = {"ks": _ks, "wasserstein": _wasserstein, "psi": _psi}


def _categorical(
    reference: CategoricalProfile,
    current: CategoricalProfile,
    name: str,
    counts: tuple[dict[str, int], dict[str, int]],
) -> tuple[float, dict[str, Any]]:
    """The method's value, on exact counts or on bins the sketches' errors cannot blur.

    ``counts`` are both profiles' :meth:`~CategoricalProfile.counts`, read once by the caller.
    """
    method = CATEGORICAL[name]
    if reference.is_exact and current.is_exact:
        return method.compute(*counts)
    listed = list(dict.fromkeys([*counts[0], *counts[1]]))
    bins = comparable_vectors(
        reference.estimates(listed),
        current.estimates(listed),
        reference_total=reference.count - reference.missing,
        current_total=current.count - current.missing,
        reference_error=reference.count_error / 2,
        current_error=current.count_error / 2,
        max_noise=None if name == "chi_square" else 0.05,  # as in methods.CATEGORICAL
        max_bins=10**9 if name == "chi_square" else 1000,
    )
    if name == "jensen_shannon":
        details = {"categories_kept": bins.kept, "noise": bins.noise}
        return jensen_shannon_of_vectors(bins.reference, bins.current), details
    binned_reference = dict(zip(bins.names, bins.reference.tolist(), strict=True))
    binned_current = dict(zip(bins.names, bins.current.tolist(), strict=True))
    if name == "chi_square":
        test = chi_square(binned_reference, binned_current)
        return test.p_value, {"statistic": test.statistic}
    return method.compute(binned_reference, binned_current)


def _unseen(reference: dict[str, int], current: dict[str, int]) -> tuple[list[str], float]:
    """The categories and count :func:`unseen_categories` reports, in one pass of Python.

    Counts of profiles are ints, whose sums are exact in any order, so this is the same
    result (property-tested); numpy on two dozen categories costs more than the loop.
    """
    if not all(type(n) is int for n in (*reference.values(), *current.values())):
        found = unseen_categories(reference, current)
        return [str(c) for c in found.categories], found.count
    # Reference order first (a category listed with count 0), then current's order.
    unseen = [(k, current[k]) for k, n in reference.items() if n == 0 and current.get(k, 0) > 0]
    unseen += [(k, n) for k, n in current.items() if n > 0 and k not in reference]
    unseen.sort(key=lambda item: -item[1])  # stable: ties keep that order
    return [k for k, _ in unseen], float(sum(n for _, n in unseen))


def column_drift_from_profiles(
    reference: NumericProfile | CategoricalProfile,
    current: NumericProfile | CategoricalProfile,
    *,
    column: str,
    check: ColumnCheck | None = None,
) -> ColumnDriftResult:
    """Drift of one column between two profiles of it (see the module docstring).

    The method is chosen as on raw data (:func:`~mlpulse.core.drift.methods.choose_method`,
    from the profiles' exact row counts) unless ``check`` names one; numeric profiles
    support the methods in :data:`PROFILE_METHODS`. Fewer than 5 values on either side
    give ``insufficient_data``.

    Parameters
    ----------
    reference, current : NumericProfile or CategoricalProfile
        Profiles of the same column, both of the same class.
    column : str
        The column's name, copied into the result.
    check : ColumnCheck, optional
        The method and thresholds, overriding the defaults.

    Returns
    -------
    ColumnDriftResult
        Kind ``"numeric"`` or ``"categorical"``; a categorical result reports its unseen
        categories in ``details`` (among those the profile lists).

    Raises
    ------
    ParameterError
        If the profiles are of different or unknown classes, or ``check`` names a method
        not computed from profiles.

    References
    ----------
    Karnin, Z., Lang, K. and Liberty, E. (2016). Optimal quantile approximation in
    streams. *FOCS 2016*, 71–78 (the KLL sketch and its rank error).
    Vallender, S. S. (1974). Calculation of the Wasserstein distance between probability
    distributions on the line. *Theory Probab. Appl.* 18(4), 784–786 (W1 as the L1
    distance of the quantile functions).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> reference, current = NumericProfile(), NumericProfile()
    >>> reference.update_many(rng.normal(size=50_000))
    >>> current.update_many(rng.normal(0.5, 1, 50_000))
    >>> result = column_drift_from_profiles(reference, current, column="x")
    >>> result.method, result.status.value, round(result.value, 1)
    ('wasserstein', 'critical', 0.5)
    """
    check = check or ColumnCheck()
    kind: Kind
    group: Group
    if isinstance(reference, NumericProfile) and isinstance(current, NumericProfile):
        kind, group = "numeric", "numeric"
        n_ref, n_cur, n_categories = reference.finite_count, current.finite_count, 0
    elif isinstance(reference, CategoricalProfile) and isinstance(current, CategoricalProfile):
        kind, group = "categorical", "categorical"
        n_ref, n_cur = reference.count - reference.missing, current.count - current.missing
        counts = reference.counts(), current.counts()
        n_categories = len(counts[0].keys() | counts[1].keys())
    else:
        raise parameter_error(
            "current",
            "column_drift_from_profiles",
            "a profile of the same class as reference (NumericProfile or CategoricalProfile)",
            type(current).__name__,
        )
    name = check.method or choose_method(group, n_ref, n_cur, n_categories)
    if name not in PROFILE_METHODS[group]:
        raise parameter_error(
            "method",
            "ColumnCheck",
            f"one of {', '.join(sorted(PROFILE_METHODS[group]))} for a {kind} profile",
            name,
        )
    method = (NUMERIC if group == "numeric" else CATEGORICAL)[name]
    p_value = method.p_value
    thresholds = check.thresholds or method.thresholds
    if min(n_ref, n_cur) < MIN_ROWS:
        return ColumnDriftResult(
            column, kind, name, math.nan, p_value, thresholds,
            drift_status(math.nan, thresholds, p_value=p_value), n_ref, n_cur,
        )  # fmt: skip
    if isinstance(reference, NumericProfile) and isinstance(current, NumericProfile):
        value, details = _NUMERIC[name](reference, current)
    elif isinstance(reference, CategoricalProfile) and isinstance(current, CategoricalProfile):
        value, details = _categorical(reference, current, name, counts)
        unseen, unseen_count = _unseen(*counts)
        details = {
            **details,
            "unseen_categories": unseen[:20],
            "unseen_share": unseen_count / n_cur if n_cur else 0.0,
        }
    status = drift_status(value, thresholds, p_value=p_value)
    return ColumnDriftResult(
        column, kind, name, value, p_value, thresholds, status, n_ref, n_cur, details
    )
