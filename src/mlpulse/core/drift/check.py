"""Column and dataset drift checks: a method, its thresholds and a status per column.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> result = column_drift(rng.normal(size=5000), rng.normal(0.5, 1, 5000), kind="numeric")
>>> result.method, result.status, result.drifted
('wasserstein', <Status.CRITICAL: 'critical'>, True)
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import ArrayLike

from mlpulse.core.drift.categorical import CategoryCounts, unseen_categories
from mlpulse.core.drift.categorical import counts as count_categories
from mlpulse.core.drift.methods import (
    CATEGORICAL,
    NUMERIC,
    Group,
    Method,
    Thresholds,
    choose_method,
)
from mlpulse.errors import parameter_error

Kind = Literal["numeric", "categorical", "boolean"]
# Fewer rows than this on either side: the check says insufficient_data, not a verdict.
MIN_ROWS: Final = 5


class Status(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    INSUFFICIENT_DATA = "insufficient_data"


@dataclass(frozen=True, slots=True)
class ColumnCheck:
    """A column's choice of method and thresholds, overriding the defaults."""

    method: str | None = None
    thresholds: Thresholds | None = None


@dataclass(frozen=True, slots=True)
class ColumnDriftResult:
    """The drift of one column: ``value`` of ``method`` against its ``thresholds``.

    ``threshold`` is the warning threshold (what ``drifted`` is decided on). ``p_value``
    tells whether a smaller value is worse. ``details`` holds method-specific extras
    (the test statistic, unseen categories...).
    """

    column: str
    kind: Kind
    method: str
    value: float
    p_value: bool
    thresholds: Thresholds
    status: Status
    n_reference: int
    n_current: int
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def threshold(self) -> float:
        return self.thresholds.warning

    @property
    def drifted(self) -> bool:
        return self.status in (Status.WARNING, Status.CRITICAL)


def drift_status(value: float, thresholds: Thresholds, *, p_value: bool) -> Status:
    """The status of a drift value: a p-value is worse below its thresholds, a distance
    above them; NaN means insufficient data.

    >>> drift_status(0.15, Thresholds(0.1, 0.2), p_value=False)
    <Status.WARNING: 'warning'>
    """
    if math.isnan(value):
        return Status.INSUFFICIENT_DATA
    if p_value:
        if value < thresholds.critical:
            return Status.CRITICAL
        return Status.WARNING if value < thresholds.warning else Status.OK
    if value > thresholds.critical:
        return Status.CRITICAL
    return Status.WARNING if value > thresholds.warning else Status.OK


def _group(kind: Kind) -> Group:
    return "numeric" if kind == "numeric" else "categorical"


def _numbers(values: ArrayLike | CategoryCounts) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    return array[~np.isnan(array)]


def column_drift(
    reference: ArrayLike | CategoryCounts,
    current: ArrayLike | CategoryCounts,
    *,
    kind: Kind,
    column: str = "value",
    check: ColumnCheck | None = None,
) -> ColumnDriftResult:
    """Drift of one column between ``reference`` and ``current``.

    Missing values (NaN, None) are left out: their rate is a data-quality check. The
    method is :func:`~mlpulse.core.drift.methods.choose_method`'s unless ``check`` names
    one; a categorical column also reports its unseen categories in ``details``. A
    categorical column may come as its counts (category → count, as
    :func:`~mlpulse.core.drift.categorical.counts` makes them) when they are known.
    """
    check = check or ColumnCheck()
    group = _group(kind)
    methods = NUMERIC if group == "numeric" else CATEGORICAL
    if group == "numeric":
        ref: Any = _numbers(reference)
        cur: Any = _numbers(current)
        n_ref, n_cur, n_categories = len(ref), len(cur), 0
    else:
        ref = reference if isinstance(reference, Mapping) else count_categories(reference)
        cur = current if isinstance(current, Mapping) else count_categories(current)
        n_ref, n_cur = int(sum(ref.values())), int(sum(cur.values()))
        n_categories = len(set(ref) | set(cur))
    name = check.method or choose_method(group, n_ref, n_cur, n_categories)
    method: Method | None = methods.get(name)
    if method is None:
        raise parameter_error(
            "method",
            "ColumnCheck",
            f"one of {', '.join(sorted(methods))} for a {kind} column",
            name,
        )
    thresholds = check.thresholds or method.thresholds
    if min(n_ref, n_cur) < MIN_ROWS:
        return ColumnDriftResult(
            column, kind, name, math.nan, method.p_value, thresholds,
            Status.INSUFFICIENT_DATA, n_ref, n_cur,
        )  # fmt: skip
    value, details = method.compute(ref, cur)
    if group == "categorical":
        unseen = unseen_categories(ref, cur)
        details = {
            **details,
            "unseen_categories": list(unseen.categories[:20]),
            "unseen_share": unseen.share,
        }
    status = drift_status(value, thresholds, p_value=method.p_value)
    return ColumnDriftResult(
        column, kind, name, value, method.p_value, thresholds, status, n_ref, n_cur, details
    )


@dataclass(frozen=True, slots=True)
class DatasetDriftResult:
    """Which share of columns drifted (weighted by importance when given), and a status.

    ``drifted_share`` counts columns with a verdict (not ``insufficient_data``).
    """

    columns: Mapping[str, ColumnDriftResult]
    drifted_share: float
    status: Status
    thresholds: Thresholds

    @property
    def drifted(self) -> bool:
        return self.status in (Status.WARNING, Status.CRITICAL)


DEFAULT_SHARE: Final = Thresholds(warning=0.25, critical=0.5)


def dataset_drift(
    reference: Mapping[str, ArrayLike | CategoryCounts],
    current: Mapping[str, ArrayLike | CategoryCounts],
    *,
    kinds: Mapping[str, Kind],
    checks: Mapping[str, ColumnCheck] | None = None,
    importances: Mapping[str, float] | None = None,
    share: Thresholds = DEFAULT_SHARE,
    workers: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> DatasetDriftResult:
    """Drift of every column in ``kinds``; the dataset drifted when enough of it did.

    With ``importances`` (e.g. a model's feature importances), each column counts in
    proportion to its importance; columns without one count as 0. ``workers`` > 1
    checks columns in that many threads: numpy's sorts, which dominate, release the
    interpreter lock, so two threads nearly halve the wall time (4.2 s → 2.2 s for
    25 columns of 1M rows on 2 cores). ``progress(column, done, total)`` is called as
    each column is finished (a terminal shows a progress bar with it).
    """
    checks = checks or {}
    if not isinstance(workers, int) or workers < 1:
        raise parameter_error("workers", "dataset_drift", "an int >= 1", workers)
    for name in kinds:
        for side, data in (("reference", reference), ("current", current)):
            if name not in data:
                raise parameter_error(
                    side, "dataset_drift", f"a mapping with column {name!r}", sorted(data)
                )

    done = itertools.count(1)

    def one(item: tuple[str, Kind]) -> ColumnDriftResult:
        name, kind = item
        result = column_drift(
            reference[name], current[name], kind=kind, column=name, check=checks.get(name)
        )
        if progress is not None:
            progress(name, next(done), len(kinds))
        return result

    if workers == 1:
        computed = [one(item) for item in kinds.items()]
    else:
        with ThreadPoolExecutor(workers) as pool:
            computed = list(pool.map(one, kinds.items()))
    results = {r.column: r for r in computed}
    judged = [r for r in results.values() if r.status != Status.INSUFFICIENT_DATA]
    weights = {
        r.column: 1.0 if importances is None else importances.get(r.column, 0.0) for r in judged
    }
    total = sum(weights.values())
    drifted = sum(weights[r.column] for r in judged if r.drifted)
    value = drifted / total if total > 0 else math.nan
    # Inclusive, as people say it: "the dataset drifted when half its columns did".
    if math.isnan(value):
        status = Status.INSUFFICIENT_DATA
    elif value >= share.critical:
        status = Status.CRITICAL
    else:
        status = Status.WARNING if value >= share.warning else Status.OK
    return DatasetDriftResult(results, value, status, share)
