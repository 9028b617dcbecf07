"""The mergeable profile of one numeric column: exact counts and moments, a KLL sketch.

Counts, minimum, maximum and moments are exact (up to floating-point error): the mean
and the sum of squared deviations ``M2`` merge with the parallel formula of Chan, Golub
and LeVeque ("Updating formulae and a pairwise algorithm for computing sample
variances", 1979), so any merge order gives the same mean and variance within float
error. Quantiles come from a KLL sketch (Karnin, Lang and Liberty, "Optimal quantile
approximation in streams", 2016) as implemented by Apache DataSketches.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
from datasketches import kll_doubles_sketch

from mlpulse.errors import parameter_error

__all__ = ["NumericProfile", "Ranks"]

_FORMAT_VERSION = 1
_MIN_K, _MAX_K = 8, 65535
# Types that np.array(..., dtype=float64) converts exactly as float() does (None: NaN).
_PLAIN: frozenset[type] = frozenset({float, int, bool, type(None)})


class _NumericState(msgspec.Struct, array_like=True, frozen=True):
    """The wire form of a :class:`NumericProfile` (MessagePack, field order is the format)."""

    version: int
    k: int
    count: int
    missing: int
    non_finite: int
    type_errors: int
    mean: float
    m2: float
    sketch: bytes


def _as_floats(xs: object) -> tuple[npt.NDArray[np.float64], int]:
    """Values as float64 (``None`` becomes NaN) and the number that are not numbers.

    Numeric and boolean arrays are converted without a Python loop; only object and
    string arrays are read value by value.
    """
    array = np.asarray(xs)
    if array.ndim != 1:
        array = array.reshape(-1)
    if array.dtype.kind in "fiub":
        return array.astype(np.float64, copy=False), 0
    # Object or string arrays: read value by value, so that a string such as "2" is a
    # type error rather than silently parsed. Values that are all plain numbers or None
    # (an object column of a block: its None made it one) convert in C to the same floats.
    values = array.tolist()
    if set(map(type, values)) <= _PLAIN:
        try:
            return np.array(values, dtype=np.float64), 0
        except OverflowError:
            pass  # an int too large for a float: raised below as before
    out = np.empty(array.shape[0], dtype=np.float64)
    type_errors = 0
    for i, value in enumerate(values):
        if value is None:
            out[i] = math.nan
        elif isinstance(value, numbers.Real | np.bool_):
            out[i] = float(value)
        else:
            out[i] = math.nan
            type_errors += 1
    return out, type_errors


class Ranks(tuple[float, ...]):
    """Normalised ranks checked once, for quantile queries asked again and again.

    :meth:`NumericProfile.quantiles` hands them to the sketch as they are (converting
    thousands of ranks and checking them costs as much as the sketch's own search).

    >>> Ranks([0.25, 0.5])
    (0.25, 0.5)
    """

    def __new__(cls, ranks: Sequence[float]) -> Ranks:
        values = tuple(float(r) for r in ranks)
        if not values or not all(0.0 <= r <= 1.0 for r in values):
            raise parameter_error("ranks", "Ranks", "numbers in [0, 1]", list(values[:5]))
        return super().__new__(cls, values)


class NumericProfile:
    """A mergeable summary of the values of one numeric column.

    Parameters
    ----------
    k : int, default 200
        Size/accuracy parameter of the KLL quantile sketch, in [8, 65535]. At k=200 the
        single-sided normalised rank error of quantile and rank queries is about 1.33%
        and the double-sided error of PMF/CDF queries about 1.65% (99th percentile of the
        measured maximum error, DataSketches docs); see :attr:`rank_error`.

    Notes
    -----
    ``count`` counts every value seen. ``missing`` counts ``None`` and NaN;
    ``non_finite`` counts +inf and -inf; ``type_errors`` counts values that are not
    numbers (such as strings). The moments, ``min``, ``max`` and the sketch see only the
    finite values, whose number is ``finite_count``.

    The state is a few kilobytes whatever the number of rows: at k=200 the serialised
    profile is about 5.0 KB at 1e6 rows, 5.2 KB at 1e7 and 5.5 KB at 1e8 (the sketch
    grows with log(n)), so under 6 KB for any realistic window.

    Examples
    --------
    >>> import numpy as np
    >>> a = NumericProfile()
    >>> a.update_many(np.array([1.0, 2.0, np.nan, np.inf]))
    >>> b = NumericProfile()
    >>> b.update(3.0)
    >>> merged = a.merge(b)
    >>> merged.count, merged.missing, merged.non_finite, merged.finite_count
    (5, 1, 1, 3)
    >>> merged.mean, merged.variance(ddof=1), merged.min, merged.max
    (2.0, 1.0, 1.0, 3.0)
    >>> merged.quantiles([0.5]).tolist()
    [2.0]
    """

    __slots__ = (
        "_count",
        "_k",
        "_m2",
        "_mean",
        "_missing",
        "_non_finite",
        "_read",
        "_sketch",
        "_type_errors",
    )

    def __init__(self, *, k: int = 200) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or not _MIN_K <= k <= _MAX_K:
            raise parameter_error("k", "NumericProfile", f"an int in [{_MIN_K}, {_MAX_K}]", k)
        self._k = k
        self._count = 0
        self._missing = 0
        self._non_finite = 0
        self._type_errors = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._sketch: Any = kll_doubles_sketch(k)
        # The last quantiles read at a Ranks object, kept until the next update (the only
        # in-place change): a stored reference's columns are read every tick at the same
        # ranks, each read costing as much as the rest of a Wasserstein check.
        self._read: tuple[Ranks, npt.NDArray[np.float64]] | None = None

    # ------------------------------------------------------------------ updates

    def update(self, x: float | None) -> None:
        """Add one value (``None`` and NaN count as missing).

        Examples
        --------
        >>> p = NumericProfile()
        >>> p.update(1.5)
        >>> p.update(None)
        >>> p.count, p.missing, p.mean
        (2, 1, 1.5)
        """
        self._read = None
        self._count += 1
        if x is None:
            self._missing += 1
            return
        if not isinstance(x, numbers.Real | np.bool_):
            self._type_errors += 1
            return
        value = float(x)
        if math.isnan(value):
            self._missing += 1
        elif math.isinf(value):
            self._non_finite += 1
        else:
            n = self.finite_count + 1
            delta = value - self._mean
            self._mean += delta / n
            self._m2 += delta * (value - self._mean)
            self._sketch.update(value)

    def update_many(self, xs: npt.ArrayLike | Sequence[object]) -> None:
        """Add many values at once, vectorised: one sketch update with the finite values.

        Parameters
        ----------
        xs : array_like
            A one-dimensional array or sequence of numbers. ``None`` and NaN count as
            missing, ±inf as non-finite, anything else that is not a number as a type
            error (only object and string arrays are read value by value).

        Examples
        --------
        >>> p = NumericProfile()
        >>> p.update_many([1.0, None, 3.0, "x"])
        >>> p.count, p.missing, p.type_errors, p.mean
        (4, 1, 1, 2.0)
        """
        self._read = None
        values, type_errors = _as_floats(xs)
        total = int(values.shape[0])
        if total == 0:
            return
        nan_mask = np.isnan(values)
        n_nan = int(np.count_nonzero(nan_mask))
        finite = values[np.isfinite(values)]
        n_finite = int(finite.shape[0])
        self._count += total
        self._type_errors += type_errors
        self._missing += n_nan - type_errors
        self._non_finite += total - n_nan - n_finite
        if n_finite == 0:
            return
        batch_mean = float(finite.mean())
        deviations = finite - batch_mean
        batch_m2 = float(np.dot(deviations, deviations))
        self._mean, self._m2 = _combine_moments(
            self.finite_count, self._mean, self._m2, n_finite, batch_mean, batch_m2
        )
        self._sketch.update(np.ascontiguousarray(finite))

    def merge(self, other: NumericProfile) -> NumericProfile:
        """The profile of both sets of values, as a new object; both inputs are unchanged.

        Counts, min, max and moments equal those of the union within float error; the
        quantiles are within the sketch's rank error of the union's.

        Raises
        ------
        ParameterError
            If ``other`` is not a NumericProfile with the same ``k``.

        Examples
        --------
        >>> a, b = NumericProfile(), NumericProfile()
        >>> a.update_many([1.0, 2.0]); b.update_many([3.0, 4.0])
        >>> (a + b).mean, (a + b).variance()
        (2.5, 1.25)
        """
        if not isinstance(other, NumericProfile):
            raise parameter_error("other", "NumericProfile.merge", "a NumericProfile", other)
        if other._k != self._k:
            raise parameter_error(
                "other", "NumericProfile.merge", f"a NumericProfile with k={self._k}", other
            )
        result = NumericProfile(k=self._k)
        result._count = self._count + other._count
        result._missing = self._missing + other._missing
        result._non_finite = self._non_finite + other._non_finite
        result._type_errors = self._type_errors + other._type_errors
        result._mean, result._m2 = _combine_moments(
            self.finite_count, self._mean, self._m2, other.finite_count, other._mean, other._m2
        )
        result._sketch.merge(self._sketch)
        result._sketch.merge(other._sketch)
        return result

    def __add__(self, other: NumericProfile) -> NumericProfile:
        return self.merge(other)

    @classmethod
    def merge_all(cls, profiles: Sequence[NumericProfile]) -> NumericProfile:
        """The profile of every input's values: one new object, sketches merged into it.

        Equal to merging the inputs pairwise (moments within float error), without the
        intermediate profiles: what merging sixty minutes into an hour needs.

        Examples
        --------
        >>> parts = [NumericProfile() for _ in range(3)]
        >>> for i, p in enumerate(parts): p.update_many([float(i), float(i) + 1])
        >>> merged = NumericProfile.merge_all(parts)
        >>> merged.count, merged.mean, merged.min, merged.max
        (6, 1.5, 0.0, 3.0)
        """
        if not profiles:
            return cls()
        k = profiles[0]._k
        result = cls(k=k)
        for other in profiles:
            if not isinstance(other, NumericProfile) or other._k != k:
                raise parameter_error(
                    "profiles", "NumericProfile.merge_all", f"NumericProfiles with k={k}", other
                )
            result._mean, result._m2 = _combine_moments(
                result.finite_count, result._mean, result._m2,
                other.finite_count, other._mean, other._m2,
            )  # fmt: skip
            result._count += other._count
            result._missing += other._missing
            result._non_finite += other._non_finite
            result._type_errors += other._type_errors
            result._sketch.merge(other._sketch)
        return result

    # ------------------------------------------------------------------ state

    @property
    def k(self) -> int:
        """The KLL size/accuracy parameter."""
        return self._k

    @property
    def count(self) -> int:
        """Every value seen: finite, missing, non-finite and type errors."""
        return self._count

    @property
    def missing(self) -> int:
        """Values that were ``None`` or NaN."""
        return self._missing

    @property
    def non_finite(self) -> int:
        """Values that were +inf or -inf (kept out of moments and sketch)."""
        return self._non_finite

    @property
    def type_errors(self) -> int:
        """Values that were not numbers (for example strings)."""
        return self._type_errors

    @property
    def finite_count(self) -> int:
        """Finite values: those in the moments, min, max and sketch."""
        return int(self._sketch.n)

    @property
    def mean(self) -> float:
        """Mean of the finite values (NaN when there are none)."""
        return self._mean if self.finite_count else math.nan

    @property
    def min(self) -> float:
        """Smallest finite value (NaN when there are none)."""
        return float(self._sketch.get_min_value()) if self.finite_count else math.nan

    @property
    def max(self) -> float:
        """Largest finite value (NaN when there are none)."""
        return float(self._sketch.get_max_value()) if self.finite_count else math.nan

    @property
    def rank_error(self) -> float:
        """A-priori single-sided normalised rank error of :meth:`quantiles` (0.0133 at k=200).

        It is the 99th percentile of the maximum rank error over all ranks, measured by
        DataSketches; the double-sided bound for :meth:`cdf` differences is
        ``kll_doubles_sketch.get_normalized_rank_error(k, True)`` (0.0165 at k=200).
        """
        return float(kll_doubles_sketch.get_normalized_rank_error(self._k, False))

    def variance(self, *, ddof: int = 0) -> float:
        """Variance of the finite values, ``M2 / (n - ddof)`` as in ``numpy.var``.

        NaN when ``n - ddof <= 0``.

        Examples
        --------
        >>> p = NumericProfile()
        >>> p.update_many([1.0, 2.0, 3.0, 4.0])
        >>> p.variance(), p.variance(ddof=1)
        (1.25, 1.6666666666666667)
        """
        if isinstance(ddof, bool) or not isinstance(ddof, int) or ddof < 0:
            raise parameter_error("ddof", "NumericProfile.variance", "an int >= 0", ddof)
        dof = self.finite_count - ddof
        return self._m2 / dof if dof > 0 else math.nan

    def quantiles(self, ranks: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Approximate quantiles at the normalised ranks in [0, 1].

        The value returned for rank ``r`` is the smallest retained value whose inclusive
        rank is at least ``r`` (``numpy.quantile(..., method="inverted_cdf")``); its true
        rank is within :attr:`rank_error` of ``r`` with 99% confidence. All NaN when
        there are no finite values.

        Examples
        --------
        >>> p = NumericProfile()
        >>> p.update_many(np.arange(1.0, 101.0))
        >>> p.quantiles([0.0, 0.5, 1.0]).tolist()
        [1.0, 50.0, 100.0]
        """
        if isinstance(ranks, Ranks):
            read = self._read
            if read is not None and read[0] is ranks:
                return read[1].copy()  # a copy: the caller may change it
            listed: Sequence[float] = ranks  # checked once, when it was made
        else:
            r = np.atleast_1d(np.asarray(ranks, dtype=np.float64))
            if r.ndim != 1 or not np.all((r >= 0.0) & (r <= 1.0)):
                raise parameter_error(
                    "ranks", "NumericProfile.quantiles", "numbers in [0, 1]",
                    np.asarray(ranks).tolist(),
                )  # fmt: skip
            listed = r.tolist()
        if self.finite_count == 0:
            return np.full(len(listed), math.nan)
        found = np.array(self._sketch.get_quantiles(listed, True), dtype=np.float64)
        if isinstance(ranks, Ranks):
            self._read = (ranks, found.copy())
        return found

    def cdf(self, split_points: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Approximate fraction of finite values ``<= x`` at each split point, and 1.0.

        Returns ``m + 1`` values for ``m`` strictly increasing finite split points (the
        last is always 1.0), like DataSketches ``get_cdf(..., inclusive=True)``. All NaN
        when there are no finite values.

        Examples
        --------
        >>> p = NumericProfile()
        >>> p.update_many([1.0, 2.0, 3.0, 4.0])
        >>> p.cdf([2.0, 3.5]).tolist()
        [0.5, 0.75, 1.0]
        """
        points = np.atleast_1d(np.asarray(split_points, dtype=np.float64))
        if (
            points.ndim != 1
            or points.shape[0] == 0
            or not np.all(np.isfinite(points))
            or np.any(np.diff(points) <= 0)
        ):
            raise parameter_error(
                "split_points",
                "NumericProfile.cdf",
                "a non-empty, strictly increasing sequence of finite numbers",
                np.asarray(split_points).tolist(),
            )
        if self.finite_count == 0:
            return np.full(points.shape[0] + 1, math.nan)
        return np.asarray(self._sketch.get_cdf(points.tolist(), True), dtype=np.float64)

    # ------------------------------------------------------------------ bytes

    def to_bytes(self) -> bytes:
        """The profile as MessagePack bytes (the KLL sketch in its DataSketches format).

        Examples
        --------
        >>> p = NumericProfile()
        >>> p.update_many([1.0, 2.0])
        >>> NumericProfile.from_bytes(p.to_bytes()) == p
        True
        """
        state = _NumericState(
            version=_FORMAT_VERSION,
            k=self._k,
            count=self._count,
            missing=self._missing,
            non_finite=self._non_finite,
            type_errors=self._type_errors,
            mean=self._mean,
            m2=self._m2,
            sketch=bytes(self._sketch.serialize()),
        )
        return msgspec.msgpack.encode(state)

    @classmethod
    def from_bytes(cls, data: bytes) -> NumericProfile:
        """Read a profile written by :meth:`to_bytes`.

        Raises
        ------
        ParameterError
            If ``data`` is not a numeric profile of a format version we read.
        """
        try:
            state = msgspec.msgpack.decode(data, type=_NumericState)
            sketch = kll_doubles_sketch.deserialize(state.sketch)
        except (msgspec.DecodeError, RuntimeError, ValueError) as exc:
            raise parameter_error(
                "data", "NumericProfile.from_bytes", "bytes from NumericProfile.to_bytes", data[:16]
            ) from exc
        if state.version != _FORMAT_VERSION:
            raise parameter_error(
                "data",
                "NumericProfile.from_bytes",
                f"format version {_FORMAT_VERSION}",
                state.version,
            )
        profile = cls(k=state.k)
        profile._count = state.count
        profile._missing = state.missing
        profile._non_finite = state.non_finite
        profile._type_errors = state.type_errors
        profile._mean = state.mean
        profile._m2 = state.m2
        profile._sketch = sketch
        return profile

    def __eq__(self, other: object) -> bool:
        """Equal when the serialised states are byte-for-byte equal."""
        if not isinstance(other, NumericProfile):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable

    def __repr__(self) -> str:
        return (
            f"NumericProfile(k={self._k}, count={self._count}, missing={self._missing}, "
            f"non_finite={self._non_finite}, mean={self.mean!r}, "
            f"min={self.min!r}, max={self.max!r})"
        )


def _combine_moments(
    n_a: int, mean_a: float, m2_a: float, n_b: int, mean_b: float, m2_b: float
) -> tuple[float, float]:
    """Mean and M2 of two groups (Chan, Golub and LeVeque, 1979)."""
    n = n_a + n_b
    if n_a == 0:
        return mean_b, m2_b
    if n_b == 0:
        return mean_a, m2_a
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    m2 = m2_a + m2_b + delta * delta * (n_a * n_b / n)
    return mean, m2
