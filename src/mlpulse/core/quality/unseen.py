"""The share of a categorical column's rows whose category the reference never had.

>>> unseen_share(["a", "b"], ["a", "c", "c", "d"]).details["top_unseen"]
[('c', 2), ('d', 1)]
"""

from __future__ import annotations

import math
from typing import Any, Final

from mlpulse.core.drift.check import Status
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.quality.result import QualityResult, grade_share, validate_thresholds
from mlpulse.core.quality.sampling import DEFAULT_ALPHA, excess_lower, validate_alpha
from mlpulse.core.quality.summary import ColumnSummary, summarize
from mlpulse.core.quality.values import Values, as_column
from mlpulse.errors import parameter_error

# The share of rows with an unseen category beyond what the reference predicts: one
# percentage point more warns, five more is critical.
DEFAULT_THRESHOLDS: Final = Thresholds(warning=0.01, critical=0.05)


def unseen_share(
    reference: Values,
    current: Values,
    *,
    column: str = "value",
    top: int = 10,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    alpha: float = DEFAULT_ALPHA,
) -> QualityResult:
    """The share of ``current``'s present rows whose category is not in ``reference``.

    A long-tailed column shows new categories in every sample, shifted or not: at 30,000
    Zipf-distributed categories about 8% of the rows of a new sample of 100,000 fall on
    categories a same-sized reference missed. What the reference predicts is the
    Good-Turing estimate of its missing mass, the share of its rows whose category occurs once
    (Good, 1953, Biometrika 40(3-4)): ``n1 / n``. The status grades the one-sided lower
    confidence bound of ``value - n1 / n`` at ``alpha`` (Wilson's bound for the current
    share, Esty's (1983) standard error for the estimate, combined as in Newcombe's
    hybrid interval; see :mod:`~mlpulse.core.quality.sampling`), so only unseen rows
    beyond that prediction and beyond sampling error are flagged. ``value`` is the
    unseen share itself. Missing values are left out on both sides. An empty reference
    or current gives ``insufficient_data``.

    Parameters
    ----------
    reference, current : array_like
        One categorical column each.
    column : str
        The column's name, for the result.
    top : int
        How many of the most frequent unseen categories ``details`` lists.
    thresholds : Thresholds
        Excess over the expected share at which a warning and a critical status start
        (``>=``); default 0.01 and 0.05.
    alpha : float
        One-sided error rate of the bound, in (0, 0.5]; default 0.01.

    Returns
    -------
    QualityResult
        ``details``: ``top_unseen`` (category, count) pairs, most frequent first (ties
        in the categories' order), ``n_unseen_categories``, ``n_unseen``, ``n_current``,
        ``expected_share`` (Good-Turing), ``lower_bound``.

    Examples
    --------
    >>> r = unseen_share(["a", "b", None], ["a", "b", "z", None])
    >>> round(r.value, 3), r.status.value
    (0.333, 'ok')
    >>> r = unseen_share(["a", "b"] * 500, ["a", "b", "z", "b"] * 250)
    >>> r.value, r.details["expected_share"], r.status.value
    (0.25, 0.0, 'critical')
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise parameter_error("top", "unseen_share", "an int in [0, inf)", top)
    validate_thresholds(thresholds, "unseen_share")
    validate_alpha(alpha, "unseen_share")
    return unseen_share_from(
        summarize(as_column(reference, "unseen_share", "reference"), "categorical"),
        summarize(as_column(current, "unseen_share"), "categorical"),
        column=column,
        top=top,
        thresholds=thresholds,
        alpha=alpha,
    )


def unseen_share_from(
    reference: ColumnSummary,
    current: ColumnSummary,
    *,
    column: str,
    top: int = 10,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    alpha: float = DEFAULT_ALPHA,
) -> QualityResult:
    """:func:`unseen_share` of two categorical column summaries (the suite's way)."""
    ref, cur = reference.counts or {}, current.counts or {}
    n_ref, n_cur = sum(ref.values()), sum(cur.values())
    if not n_ref or not n_cur:
        counts = {"n_reference": n_ref, "n_current": n_cur}
        return QualityResult(
            "unseen_categories", column, math.nan, thresholds, Status.INSUFFICIENT_DATA, counts
        )
    # The counts are in the categories' order: a stable sort keeps it among equal counts.
    unseen: list[tuple[Any, int]] = [(c, n) for c, n in cur.items() if c not in ref]
    unseen.sort(key=lambda pair: -pair[1])
    n_unseen = sum(n for _, n in unseen)
    singletons = sum(1 for n in ref.values() if n == 1)
    doubletons = sum(1 for n in ref.values() if n == 2)
    expected = singletons / n_ref
    # Esty (1983, Annals of Statistics 11(3)): the Good-Turing estimate's error has
    # variance (n1 (1 - n1/n) + 2 n2) / n^2, larger than a binomial share's, as the
    # missed categories come in lumps.
    error = math.sqrt(singletons * (1.0 - expected) + 2.0 * doubletons) / n_ref
    value = n_unseen / n_cur
    lower = excess_lower(n_unseen, n_cur, expected, error, alpha=alpha)
    details = {
        "top_unseen": unseen[:top],
        "n_unseen_categories": len(unseen),
        "n_unseen": n_unseen,
        "n_current": n_cur,
        "expected_share": expected,
        "lower_bound": lower,
    }
    return QualityResult(
        "unseen_categories", column, value, thresholds, grade_share(value, lower, thresholds),
        details,
    )  # fmt: skip
