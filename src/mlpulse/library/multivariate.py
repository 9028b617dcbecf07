"""The multivariate checks of a library-mode report: PCA reconstruction and a domain classifier.

Both see every compared column at once, so they catch a changed correlation structure
that no single column's drift shows. Numeric and boolean columns enter as numbers;
a categorical column enters as the rank of its category in the reference (by count,
unseen categories after all of them), which a tree ensemble splits as well as one-hot
columns and keeps the matrix as wide as the table. PCA sees only the numeric and
boolean columns: category codes carry no linear structure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlpulse.core.drift.categorical import counts as count_categories
from mlpulse.core.drift.check import Kind, Status
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.drift.multivariate import PCAReconstruction

__all__ = ["MultivariateCheck", "multivariate_checks"]

# PCA is fitted on at most this many reference rows: the covariance of 20 columns is
# settled long before, and the fit stays a few tens of milliseconds at any input size.
PCA_MAX_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class MultivariateCheck:
    """One multivariate check of a report: its value against thresholds, and details."""

    check: str
    value: float
    thresholds: Thresholds
    status: Status
    columns: tuple[str, ...]
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return self.status in (Status.WARNING, Status.CRITICAL)


def _codes(reference: NDArray[Any], current: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """Each category's rank by reference count (NaN for missing; unseen after the rest)."""
    ranked = sorted(count_categories(reference).items(), key=lambda kv: -kv[1])
    rank = {value: float(i) for i, (value, _) in enumerate(ranked)}
    unseen = float(len(rank))

    def encode(values: NDArray[Any]) -> NDArray[np.float64]:
        out = np.empty(values.shape[0], dtype=np.float64)
        for i, value in enumerate(values.tolist()):
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            out[i] = math.nan if missing else rank.get(value, unseen)
        return out

    return encode(reference), encode(current)


def _matrices(
    reference: Mapping[str, NDArray[Any]],
    current: Mapping[str, NDArray[Any]],
    kinds: Mapping[str, Kind],
    *,
    numeric_only: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64], tuple[str, ...]]:
    names, ref_columns, cur_columns = [], [], []
    for name, kind in kinds.items():
        if kind == "categorical":
            if numeric_only:
                continue
            r, c = _codes(reference[name], current[name])
        else:
            r = np.asarray(reference[name], dtype=np.float64)
            c = np.asarray(current[name], dtype=np.float64)
        names.append(name)
        ref_columns.append(r)
        cur_columns.append(c)
    if not names:
        return np.empty((0, 0)), np.empty((0, 0)), ()
    return np.column_stack(ref_columns), np.column_stack(cur_columns), tuple(names)


def _rows(
    columns: Mapping[str, NDArray[Any]], size: int, rng: np.random.Generator
) -> dict[str, NDArray[Any]]:
    """The same ``size`` random rows of every column (all rows when there are fewer)."""
    n = len(next(iter(columns.values()))) if columns else 0
    if n <= size:
        return dict(columns)
    chosen = np.sort(rng.choice(n, size=size, replace=False))
    return {name: np.asarray(values)[chosen] for name, values in columns.items()}


def multivariate_checks(
    reference: Mapping[str, NDArray[Any]],
    current: Mapping[str, NDArray[Any]],
    kinds: Mapping[str, Kind],
    *,
    seed: int = 0,
) -> list[MultivariateCheck]:
    """PCA reconstruction drift and the domain-classifier AUC of the compared columns.

    A check with too few columns (PCA needs two numeric ones) is left out; too few rows
    give ``insufficient_data``, as each check documents.
    """
    from mlpulse.core.drift.multivariate.domain_classifier import (
        DEFAULT_MAX_ROWS,
        domain_classifier_auc,
    )

    checks: list[MultivariateCheck] = []
    rng = np.random.default_rng(seed)
    ref, cur, names = _matrices(reference, current, kinds, numeric_only=True)
    if len(names) >= 2 and ref.shape[0] >= 2:
        fitted_on = ref
        if ref.shape[0] > PCA_MAX_ROWS:
            fitted_on = ref[np.sort(rng.choice(ref.shape[0], PCA_MAX_ROWS, replace=False))]
        pca = PCAReconstruction(fitted_on)
        result = pca.drift(cur)
        checks.append(
            MultivariateCheck(
                "pca_reconstruction",
                result.ratio,
                result.thresholds,
                result.status,
                names,
                {
                    "reference_error": result.reference_error,
                    "current_error": result.current_error,
                    "p_value": result.p_value,
                    "exceedance": result.exceedance,
                    "n_components": result.n_components,
                    "n_reference": result.n_reference,
                    "n_current": result.n_current,
                },
            )
        )
    # The classifier uses at most DEFAULT_MAX_ROWS rows in all; drawing them first keeps
    # the encoding of category columns to those rows.
    half = DEFAULT_MAX_ROWS // 2
    ref, cur, names = _matrices(
        _rows(reference, half, rng), _rows(current, half, rng), kinds, numeric_only=False
    )
    if names:
        auc = domain_classifier_auc(ref, cur, seed=seed, feature_names=list(names))
        checks.append(
            MultivariateCheck(
                "domain_classifier",
                auc.auc,
                auc.thresholds,
                auc.status,
                names,
                {
                    "auc_std": auc.auc_std,
                    "folds": auc.folds,
                    "n_reference": auc.n_reference,
                    "n_current": auc.n_current,
                    "top_features": [list(pair) for pair in auc.top_features],
                },
            )
        )
    return checks
