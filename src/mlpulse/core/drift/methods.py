"""The drift methods a check can use, by column kind, with their default thresholds.

A method turns (reference, current) into one value; a p-value method is worse when the
value is *smaller*, a distance when it is larger. Thresholds are the defaults a column
gets unless its check overrides them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray

from mlpulse.core.drift import categorical, numeric
from mlpulse.core.drift.categorical.binning import complete_comparable_vectors
from mlpulse.core.drift.categorical.jensen_shannon import jensen_shannon_of_vectors

Group = Literal["numeric", "categorical"]
Numbers = NDArray[np.float64]
Counts = Mapping[Hashable, float]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where a value turns into a ``warning`` and a ``critical`` status.

    For a p-value method the status worsens as the value falls below the thresholds;
    for a distance, as it rises above them.
    """

    warning: float
    critical: float


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    group: Group
    p_value: bool
    thresholds: Thresholds
    # Returns (value, details). For numeric methods the arguments are float arrays with
    # missing values removed; for categorical ones, category → count mappings.
    compute: Callable[[Any, Any], tuple[float, dict[str, Any]]]


def _test(result: Any) -> tuple[float, dict[str, Any]]:
    return float(result.p_value), {"statistic": float(result.statistic)}


_P_VALUE = Thresholds(warning=0.05, critical=0.01)

NUMERIC: Final[dict[str, Method]] = {
    m.name: m
    for m in (
        Method("ks", "numeric", True, _P_VALUE, lambda r, c: _test(numeric.ks(r, c))),
        Method(
            "wasserstein",
            "numeric",
            False,
            Thresholds(0.1, 0.2),
            lambda r, c: (numeric.wasserstein(r, c, normalize=True), {"normalized": True}),
        ),
        Method(
            "psi", "numeric", False, Thresholds(0.1, 0.25), lambda r, c: (numeric.psi(r, c), {})
        ),
        Method(
            "jensen_shannon",
            "numeric",
            False,
            Thresholds(0.1, 0.2),
            lambda r, c: (numeric.jensen_shannon(r, c), {}),
        ),
        Method(
            "hellinger",
            "numeric",
            False,
            Thresholds(0.1, 0.2),
            lambda r, c: (numeric.hellinger(r, c), {}),
        ),
        Method(
            "kl_divergence",
            "numeric",
            False,
            Thresholds(0.1, 0.25),
            lambda r, c: (numeric.kl_divergence(r, c), {}),
        ),
        Method(
            "anderson_darling",
            "numeric",
            True,
            _P_VALUE,
            lambda r, c: _test(numeric.anderson_darling(r, c)),
        ),
        Method(
            "cramer_von_mises",
            "numeric",
            True,
            _P_VALUE,
            lambda r, c: _test(numeric.cramer_von_mises(r, c)),
        ),
        Method(
            "mann_whitney",
            "numeric",
            True,
            _P_VALUE,
            lambda r, c: _test(numeric.mann_whitney(r, c)),
        ),
        Method("welch_t", "numeric", True, _P_VALUE, lambda r, c: _test(numeric.welch_t(r, c))),
    )
}


def _lumped_js(reference: Counts, current: Counts) -> tuple[float, dict[str, Any]]:
    # Counts here are exact and complete: only as many bins as the rows carry, and a
    # Good-Turing bin for categories the reference never saw (see categorical.binning).
    # As vectors: the value of jensen_shannon over comparable_bins, without the dicts.
    bins = complete_comparable_vectors(reference, current)
    return jensen_shannon_of_vectors(bins.reference, bins.current), {
        "categories_kept": bins.kept,
        "noise": bins.noise,
    }


def _binned_chi_square(reference: Counts, current: Counts) -> tuple[float, dict[str, Any]]:
    # Cells expected fewer than 5 times merged into one (the chi-square rule): sparse
    # cells of a high-cardinality column otherwise bury a new category at 8% of rows.
    bins = categorical.comparable_bins(reference, current, max_noise=None, max_bins=10**9)
    return _test(categorical.chi_square(bins.reference, bins.current))


CATEGORICAL: Final[dict[str, Method]] = {
    m.name: m
    for m in (
        Method("chi_square", "categorical", True, _P_VALUE, _binned_chi_square),
        Method(
            "proportion_z",
            "categorical",
            True,
            _P_VALUE,
            lambda r, c: _test(categorical.proportion_z(r, c)),
        ),
        Method(
            "fisher",
            "categorical",
            True,
            _P_VALUE,
            lambda r, c: _test(categorical.fisher_exact(r, c)),
        ),
        Method("jensen_shannon", "categorical", False, Thresholds(0.1, 0.2), _lumped_js),
        Method(
            "psi",
            "categorical",
            False,
            Thresholds(0.1, 0.25),
            lambda r, c: (categorical.psi(r, c), {}),
        ),
        Method(
            "hellinger",
            "categorical",
            False,
            Thresholds(0.1, 0.2),
            lambda r, c: (categorical.hellinger(r, c), {}),
        ),
        Method(
            "total_variation",
            "categorical",
            False,
            Thresholds(0.1, 0.2),
            lambda r, c: (categorical.total_variation(r, c), {}),
        ),
    )
}

# Above this many rows (in the smaller sample) p-value tests flag differences too small
# to matter: the default becomes an effect-size distance with a threshold.
LARGE_SAMPLE: Final = 1000


def choose_method(group: Group, n_reference: int, n_current: int, n_categories: int = 0) -> str:
    """The default method for a column, by kind and sample size.

    - numeric: Kolmogorov–Smirnov (p-value) up to 1,000 rows in the smaller sample;
      above, the Wasserstein distance normalised by the reference's standard deviation
      (warning at 0.1 sd, critical at 0.2 sd);
    - categorical and boolean: up to 1,000 rows, the two-proportion z-test for two
      categories and chi-square otherwise (categories expected fewer than 5 times
      merged into one cell); above, the Jensen–Shannon distance over at
      most 100 categories frequent enough for the sample sizes, one bucket for the rest
      and one for categories new to the reference (see
      :func:`~mlpulse.core.drift.categorical.comparable_bins`).

    >>> choose_method("numeric", 500, 100_000), choose_method("numeric", 5_000, 100_000)
    ('ks', 'wasserstein')
    >>> choose_method("categorical", 200, 300, 2), choose_method("categorical", 10**6, 10**6, 50)
    ('proportion_z', 'jensen_shannon')
    """
    small = min(n_reference, n_current) <= LARGE_SAMPLE
    if group == "numeric":
        return "ks" if small else "wasserstein"
    if small:
        return "proportion_z" if n_categories <= 2 else "chi_square"
    return "jensen_shannon"
