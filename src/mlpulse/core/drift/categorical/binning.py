"""Bins for comparing two category distributions: as many as the sample sizes can carry.

Why: a distance summed over category bins reads sampling noise as drift when a bin is
expected only a few times or when there are many bins for the rows. For two samples of
one distribution over ``m`` bins each expected often, the base-2 Jensen-Shannon
divergence (squared distance) is about

.. math:: \\bar D = \\frac{(m - 1)(1/n_r + 1/n_c)}{8 \\ln 2}

(the chi-square approximation of the divergence; Lin 1991). A fixed "top 100 + other"
lumping therefore reads about 0.19 on two unshifted samples of 1,001 rows (bins of about
two rows each), over the 0.1 warning threshold. :func:`comparable_bins` chooses the bins
so that ``sqrt(D̄)`` stays at most ``max_noise`` (0.05 by default, half the warning
threshold), and keeps a category as its own bin only when:

- it is expected at least 5 times on each side under "no drift" (pooled share × rows;
  the chi-square rule, Cochran 1954), and
- its count is known well enough on each side: ``expected ≥ min(10 × error, error²)``
  where ``error`` bounds each count's error (0 for exact counts; half the
  frequent-items sketch's own maximum error for a sketch's midpoint estimate): within
  10% of the count, or adding no more to the statistic than sampling does (a count ``c``
  off by ``e`` adds about ``e² / c`` to a bin's chi-square term, sampling about 1).

Bins are taken by pooled count (reference + current), so a new category that is frequent
in current gets its own bin. Everything else is one ``__other__`` bin per side; the rows a
sketch does not list at all (``total`` above the listed counts) are in it too, so a
category listed by only one profile is never compared against a zero it did not earn.

Thinly spread new categories: when the reference's counts are exact (library mode, or
exact profiles), categories absent from the reference form a ``__new__`` bin in current.
Its reference share is the Good-Turing estimate of the mass the reference sample did not
see, ``f1 / n_r`` (``f1`` = categories seen once in the reference; Good 1953), taken
from the reference's ``__other__`` bin (the rarely seen categories, whose sample counts
overstate their population share by that much). Under "no drift" current's share of
categories the reference never saw is about ``f1 / n_r`` too, so a high-cardinality
column is not flagged for its tail, while 5% of rows in new categories (0.05 over
``f1 / n_r``) is.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from mlpulse.core.drift.categorical.counts import CategoryCounts, aligned
from mlpulse.errors import InvalidInputError, parameter_error

__all__ = [
    "OTHER",
    "UNSEEN",
    "BinnedVectors",
    "BinningResult",
    "comparable_bins",
    "comparable_vectors",
    "complete_comparable_vectors",
    "expected_noise",
]

OTHER: Final = "__other__"
"""The bin of every category not kept on its own (and of the rows a sketch does not list)."""

UNSEEN: Final = "__new__"
"""The bin of current's categories absent from an exact reference (Good-Turing share)."""

_MIN_EXPECTED: Final = 5.0
_ERROR_RATIO: Final = 10.0  # a kept count is within 1 / _ERROR_RATIO of its size ...


def _least_count(error: float) -> float:
    """The smallest expected count a bin needs, given a bound on its count's error.

    ... or its error adds at most what sampling does: a count ``c`` off by ``e`` adds
    about ``e² / c`` to the chi-square sum a bin contributes, where sampling adds about 1,
    so ``c ≥ e²`` suffices when ``e`` < 10.
    """
    return max(_MIN_EXPECTED, min(_ERROR_RATIO * error, error * error))


@dataclass(frozen=True, slots=True)
class BinningResult:
    """The binned counts of both sides (same keys, same order) and what was kept.

    ``kept`` categories have their own bin; ``noise`` is the Jensen-Shannon distance two
    samples of one distribution would show over these bins (see :func:`expected_noise`).
    """

    reference: dict[Hashable, float]
    current: dict[Hashable, float]
    kept: int
    noise: float


@dataclass(frozen=True, eq=False, slots=True)
class BinnedVectors:
    """:class:`BinningResult` as vectors: ``reference[i]`` and ``current[i]`` count bin
    ``names[i]`` (the kept categories, then :data:`OTHER`, then :data:`UNSEEN`)."""

    names: list[Hashable]
    reference: NDArray[np.float64]
    current: NDArray[np.float64]
    kept: int
    noise: float


def expected_noise(bins: int, n_reference: float, n_current: float) -> float:
    """The base-2 Jensen-Shannon distance sampling noise alone gives over ``bins`` bins.

    ``sqrt((bins - 1)(1/n_r + 1/n_c) / (8 ln 2))``: the root of the expected divergence
    of two samples of one distribution whose bins are each expected many times.

    >>> round(expected_noise(101, 1001, 1001), 3), round(expected_noise(7, 1001, 1001), 3)
    (0.19, 0.046)
    """
    if bins <= 1 or n_reference <= 0 or n_current <= 0:
        return 0.0
    return math.sqrt((bins - 1) * (1 / n_reference + 1 / n_current) / (8 * math.log(2)))


def _total(given: float | None, listed: float, field: str) -> float:
    if given is None:
        return listed
    if not math.isfinite(given) or given < listed * (1 - 1e-9) - 1e-9:
        raise InvalidInputError(
            f"{field} must be a finite number at least the sum of the listed counts "
            f"({listed:g}); got {given!r}.",
            field=field,
        )
    return float(given)


def comparable_bins(
    reference_counts: CategoryCounts,
    current_counts: CategoryCounts,
    *,
    reference_total: float | None = None,
    current_total: float | None = None,
    reference_error: float = 0.0,
    current_error: float = 0.0,
    reference_singletons: float | None = None,
    max_noise: float | None = 0.05,
    max_bins: int = 1000,
) -> BinningResult:
    """Lump two sets of category counts into bins the sample sizes can compare.

    See the module docstring for the rules. The result keeps the kept categories (by
    pooled count, largest first), then :data:`OTHER`, then :data:`UNSEEN`; a bin empty on
    both sides is left out. Totals are unchanged (the reference's, with the Good-Turing
    bin, too). Pass the result to any statistic of this package, e.g.
    ``jensen_shannon(result.reference, result.current)``.

    Parameters
    ----------
    reference_counts, current_counts : Mapping
        Category → non-negative count (sketch estimates for the categories either
        side lists; a category missing from a mapping counts 0).
    reference_total, current_total : float, optional
        All rows of each side, when the mappings list only some of them (a sketch);
        the rest go to :data:`OTHER`. Default: the sum of the mapping.
    reference_error, current_error : float, default 0
        A bound on the error of each count of that side (0 for exact counts).
    reference_singletons : float, optional
        The number of categories seen exactly once in the reference, when the reference
        counts are exact and complete; it enables the :data:`UNSEEN` bin.
    max_noise : float or None, default 0.05
        The largest noise distance (:func:`expected_noise`) the bins may have, in (0, 1);
        None for no limit (a test whose null distribution counts the bins, such as
        chi-square with its degrees of freedom, needs only the expected-count rule).
    max_bins : int, default 1000
        The most categories kept on their own, ≥ 1 (the noise budget binds first below
        about 1.4e5 rows a side).

    Returns
    -------
    BinningResult

    Raises
    ------
    ParameterError
        If an option is out of range.
    InvalidInputError
        If a count or total is invalid or a side has no rows.

    References
    ----------
    Cochran, W. G. (1954). Some methods for strengthening the common χ² tests.
    *Biometrics* 10(4), 417-451 (expected counts of at least 5). Good, I. J. (1953). The
    population frequencies of species and the estimation of population parameters.
    *Biometrika* 40(3-4), 237-264. Lin, J. (1991). Divergence measures based on the
    Shannon entropy. *IEEE Trans. Inf. Theory* 37(1), 145-151.

    Examples
    --------
    >>> bins = comparable_bins({"a": 500, "b": 300, "c": 2, "d": 1}, {"a": 450, "b": 350, "e": 3})
    >>> bins.reference
    {'a': 500.0, 'b': 300.0, '__other__': 3.0}
    >>> bins.current
    {'a': 450.0, 'b': 350.0, '__other__': 3.0}
    """
    bins = comparable_vectors(
        reference_counts,
        current_counts,
        reference_total=reference_total,
        current_total=current_total,
        reference_error=reference_error,
        current_error=current_error,
        reference_singletons=reference_singletons,
        max_noise=max_noise,
        max_bins=max_bins,
    )
    reference = dict(zip(bins.names, bins.reference.tolist(), strict=True))
    current = dict(zip(bins.names, bins.current.tolist(), strict=True))
    return BinningResult(reference, current, bins.kept, bins.noise)


def comparable_vectors(
    reference_counts: CategoryCounts,
    current_counts: CategoryCounts,
    *,
    reference_total: float | None = None,
    current_total: float | None = None,
    reference_error: float = 0.0,
    current_error: float = 0.0,
    reference_singletons: float | None = None,
    max_noise: float | None = 0.05,
    max_bins: int = 1000,
) -> BinnedVectors:
    """:func:`comparable_bins` as two aligned count vectors, without the dictionaries.

    Same options, checks and bins (``names`` in the order of the mappings
    :func:`comparable_bins` returns); for a statistic that takes vectors, such as
    :func:`~mlpulse.core.drift.categorical.jensen_shannon.jensen_shannon_of_vectors`:
    what the evaluator's drift checks use on every column and tick.

    >>> bins = comparable_vectors({"a": 500, "b": 300, "c": 2}, {"a": 450, "b": 350})
    >>> bins.names, bins.reference.tolist(), bins.current.tolist()
    (['a', 'b', '__other__'], [500.0, 300.0, 2.0], [450.0, 350.0, 0.0])
    """
    owner = "comparable_bins"
    if isinstance(max_bins, bool) or not isinstance(max_bins, int) or max_bins < 1:
        raise parameter_error("max_bins", owner, "an int in [1, inf)", max_bins)
    if max_noise is not None and (not isinstance(max_noise, int | float) or not 0 < max_noise < 1):
        raise parameter_error("max_noise", owner, "a float in (0, 1) or None", max_noise)
    for name, error in (("reference_error", reference_error), ("current_error", current_error)):
        if not isinstance(error, int | float) or not 0 <= error < math.inf:
            raise parameter_error(name, owner, "a float in [0, inf)", error)
    for label in (OTHER, UNSEEN):
        if label in reference_counts or label in current_counts:
            raise InvalidInputError(f"{label!r} is a bin's name; it cannot be a category.")
    pair = aligned(reference_counts, current_counts)
    n_r = _total(reference_total, float(pair.reference.sum()), "reference_total")
    n_c = _total(current_total, float(pair.current.sum()), "current_total")
    for size, field in ((n_r, "reference_counts"), (n_c, "current_counts")):
        if size <= 0:
            raise InvalidInputError(f"{field} has no observations (total count 0).", field=field)
    pooled = (pair.reference + pair.current) / (n_r + n_c)
    eligible = (pooled * n_r >= _least_count(reference_error)) & (
        pooled * n_c >= _least_count(current_error)
    )
    unseen_bin = reference_singletons is not None
    # Largest m with expected_noise(m) <= max_noise; the lumped bins count among the m.
    room = max_bins
    if max_noise is not None:
        budget = max_noise**2 * 8 * math.log(2) / (1 / n_r + 1 / n_c)
        room = max(1, min(max_bins, math.floor(budget + 1e-9) - unseen_bin))
    candidates = np.flatnonzero(eligible)
    order = candidates[np.argsort(-pooled[candidates], kind="stable")][:room]
    keep = np.zeros(len(pair.categories), dtype=bool)
    keep[order] = True
    names = [pair.categories[i] for i in order.tolist()]
    reference = pair.reference[order].tolist()
    current = pair.current[order].tolist()
    other_r = max(0.0, n_r - float(pair.reference[keep].sum()))
    other_c = max(0.0, n_c - float(pair.current[keep].sum()))
    unseen_r = unseen_c = 0.0
    if reference_singletons is not None:
        new = ~keep & (pair.reference == 0)
        unseen_c = min(other_c, float(pair.current[new].sum()))
        other_c -= unseen_c
        # Good-Turing: the categories seen r times hold about (r + 1) N_{r+1} / n of the
        # population, so the unseen mass f1 / n comes out of the rarely seen ones, which
        # are in the other bin (a kept category is expected at least 5 times).
        unseen_r = min(max(float(reference_singletons), 0.0), other_r)
        other_r -= unseen_r
    kept = len(names)
    for label, r, c in ((OTHER, other_r, other_c), (UNSEEN, unseen_r, unseen_c)):
        if r + c > 0:
            names.append(label)
            reference.append(r)
            current.append(c)
    return BinnedVectors(
        names,
        np.array(reference, dtype=np.float64),
        np.array(current, dtype=np.float64),
        kept,
        expected_noise(len(names), n_r, n_c),
    )


_SMALL: Final = 256  # categories up to which one pass of Python beats the numpy path


def complete_comparable_vectors(
    reference_counts: CategoryCounts,
    current_counts: CategoryCounts,
    *,
    max_noise: float | None = 0.05,
    max_bins: int = 1000,
) -> BinnedVectors:
    """:func:`comparable_vectors` of exact, complete counts, with the :data:`UNSEEN` bin.

    The reference singletons are counted from ``reference_counts``. While every count is
    an int (exact counts, as profiles and :func:`counts` give) and there are few
    categories, the bins are chosen in one pass of Python over the categories instead
    of about twenty numpy calls: what the evaluator's drift check does for each
    categorical column every tick. The result is the very same (sums of integer counts
    are exact in floating point whatever their order, and every other step is the same
    operation on the same floats; property-tested); any other input takes the numpy path.

    >>> bins = complete_comparable_vectors({"a": 500, "b": 300, "c": 1}, {"a": 450, "d": 2})
    >>> bins.names, bins.reference.tolist(), bins.current.tolist()
    (['a', 'b', '__new__'], [500.0, 300.0, 1.0], [450.0, 0.0, 2.0])
    """
    singletons = sum(1 for n in reference_counts.values() if n == 1)
    fast = (
        len(reference_counts) + len(current_counts) <= _SMALL
        and isinstance(max_bins, int) and not isinstance(max_bins, bool) and max_bins >= 1
        and (max_noise is None or (isinstance(max_noise, int | float) and 0 < max_noise < 1))
        and all(type(n) is int and n >= 0 for n in reference_counts.values())
        and all(type(n) is int and n >= 0 for n in current_counts.values())
        and OTHER not in reference_counts and UNSEEN not in reference_counts
        and OTHER not in current_counts and UNSEEN not in current_counts
    )  # fmt: skip
    n_r = float(sum(reference_counts.values())) if fast else 0.0
    n_c = float(sum(current_counts.values())) if fast else 0.0
    if n_r <= 0 or n_c <= 0:  # not fast, or a side without rows (which raises there)
        return comparable_vectors(
            reference_counts, current_counts,
            reference_singletons=singletons, max_noise=max_noise, max_bins=max_bins,
        )  # fmt: skip
    categories = list(reference_counts)
    r = [float(n) for n in reference_counts.values()]
    c = [float(current_counts.get(k, 0)) for k in categories]
    for k, n in current_counts.items():
        if k not in reference_counts:
            categories.append(k)
            r.append(0.0)
            c.append(float(n))
    total = n_r + n_c
    pooled = [(a + b) / total for a, b in zip(r, c, strict=True)]
    room = max_bins
    if max_noise is not None:
        budget = max_noise**2 * 8 * math.log(2) / (1 / n_r + 1 / n_c)
        room = max(1, min(max_bins, math.floor(budget + 1e-9) - 1))
    eligible = [i for i, p in enumerate(pooled) if p * n_r >= _MIN_EXPECTED <= p * n_c]
    order = sorted(eligible, key=lambda i: -pooled[i])[:room]  # stable, as numpy's
    kept = set(order)
    names = [categories[i] for i in order]
    reference = [r[i] for i in order]
    current = [c[i] for i in order]
    other_r = max(0.0, n_r - sum(reference))
    other_c = max(0.0, n_c - sum(current))
    new = sum(c[i] for i in range(len(c)) if r[i] == 0 and i not in kept)
    unseen_c = min(other_c, new)
    other_c -= unseen_c
    unseen_r = min(float(singletons), other_r)
    other_r -= unseen_r
    for label, a, b in ((OTHER, other_r, other_c), (UNSEEN, unseen_r, unseen_c)):
        if a + b > 0:
            names.append(label)
            reference.append(a)
            current.append(b)
    return BinnedVectors(
        names,
        np.array(reference, dtype=np.float64),
        np.array(current, dtype=np.float64),
        len(order),
        expected_noise(len(names), n_r, n_c),
    )
