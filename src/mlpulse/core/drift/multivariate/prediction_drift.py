"""Model-level drift: named entry points for the drift of a model's scores and labels.

Both are univariate checks (:func:`~mlpulse.core.drift.check.column_drift`); these
helpers only fix the kind and the column name, so monitors and reports speak of
"score drift" and "label drift" with the same defaults everywhere.
"""

from __future__ import annotations

from numpy.typing import ArrayLike

from mlpulse.core.drift.check import ColumnCheck, ColumnDriftResult, column_drift

__all__ = ["label_drift", "score_drift"]


def score_drift(
    reference_scores: ArrayLike,
    current_scores: ArrayLike,
    *,
    check: ColumnCheck | None = None,
) -> ColumnDriftResult:
    """Drift of a model's numeric outputs (scores, probabilities, regression predictions).

    A numeric :func:`~mlpulse.core.drift.check.column_drift` on the column ``"score"``:
    the method and thresholds are the numeric defaults unless ``check`` overrides them;
    NaN is left out.

    References
    ----------
    Rabanser, S., Günnemann, S. and Lipton, Z. C. (2019). Failing loudly: an empirical
    study of methods for detecting dataset shift. *NeurIPS 32* (black-box shift
    detection on the model's outputs).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> result = score_drift(rng.beta(2, 5, 2000), rng.beta(5, 2, 2000))
    >>> result.column, result.drifted
    ('score', True)
    """
    return column_drift(
        reference_scores, current_scores, kind="numeric", column="score", check=check
    )


def label_drift(
    reference_labels: ArrayLike,
    current_labels: ArrayLike,
    *,
    check: ColumnCheck | None = None,
) -> ColumnDriftResult:
    """Drift of a model's predicted (or actual) class labels.

    A categorical :func:`~mlpulse.core.drift.check.column_drift` on the column
    ``"label"``: the categorical defaults unless ``check`` overrides them; the result's
    details list labels unseen in the reference.

    References
    ----------
    Lipton, Z. C., Wang, Y.-X. and Smola, A. (2018). Detecting and correcting for label
    shift with black box predictors. *ICML 2018*.

    Examples
    --------
    >>> result = label_drift(["a"] * 50 + ["b"] * 50, ["a"] * 90 + ["b"] * 10)
    >>> result.column, result.drifted
    ('label', True)
    >>> label_drift(["a", "b"] * 50, ["a", "b"] * 50).drifted
    False
    """
    return column_drift(
        reference_labels, current_labels, kind="categorical", column="label", check=check
    )
