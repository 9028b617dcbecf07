"""The result every data-quality check returns, and how a value becomes a status.

>>> grade(0.07, Thresholds(warning=0.05, critical=0.2))
<Status.WARNING: 'warning'>
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlpulse.core.drift.check import Status
from mlpulse.core.drift.methods import Thresholds
from mlpulse.errors import parameter_error

# Worst first: how a list of results is sorted.
SEVERITY: dict[Status, int] = {
    Status.CRITICAL: 0,
    Status.WARNING: 1,
    Status.INSUFFICIENT_DATA: 2,
    Status.OK: 3,
}


@dataclass(frozen=True, slots=True)
class QualityResult:
    """One data-quality check on one column (``column=None`` for the whole dataset).

    ``value`` is what the check measured (a share, a change in a share, a ratio...) and
    ``thresholds`` where it turns into a warning and a critical status; rule-based
    checks (a column turned constant, columns added or removed) have ``thresholds=None``.
    ``details`` holds the figures behind the value (rates on both sides, examples...).
    """

    check: str
    column: str | None
    value: float
    thresholds: Thresholds | None
    status: Status
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """Whether the check raised a warning or a critical status."""
        return self.status in (Status.WARNING, Status.CRITICAL)


def grade(value: float, thresholds: Thresholds) -> Status:
    """The status of ``value``: worse as it reaches (``>=``) each threshold; NaN → no data.

    Parameters
    ----------
    value : float
        What a check measured; larger is worse.
    thresholds : Thresholds
        Where a warning and a critical status start.

    Returns
    -------
    Status

    Examples
    --------
    >>> grade(0.2, Thresholds(0.05, 0.2)), grade(float("nan"), Thresholds(0.05, 0.2))
    (<Status.CRITICAL: 'critical'>, <Status.INSUFFICIENT_DATA: 'insufficient_data'>)
    """
    if math.isnan(value):
        return Status.INSUFFICIENT_DATA
    if value >= thresholds.critical:
        return Status.CRITICAL
    return Status.WARNING if value >= thresholds.warning else Status.OK


def grade_share(value: float, lower_bound: float, thresholds: Thresholds) -> Status:
    """The status of a share measured on a sample: :func:`grade` of its lower bound.

    ``value`` is the point estimate (NaN → ``insufficient_data``) and ``lower_bound`` its
    one-sided lower confidence bound (see :mod:`~mlpulse.core.quality.sampling`), so a
    share is flagged only when it is above a threshold beyond its sampling error.

    Examples
    --------
    >>> grade_share(0.015, 0.004, Thresholds(0.01, 0.05))
    <Status.OK: 'ok'>
    """
    if math.isnan(value):
        return Status.INSUFFICIENT_DATA
    return grade(value if math.isnan(lower_bound) else lower_bound, thresholds)


def validate_thresholds(thresholds: Thresholds, owner: str) -> None:
    """Raise a :class:`~mlpulse.errors.ParameterError` unless ``0 < warning <= critical``.

    Examples
    --------
    >>> validate_thresholds(Thresholds(0.3, 0.1), "missing_values")
    Traceback (most recent call last):
    ...
    mlpulse.errors.ParameterError: The 'thresholds' parameter of missing_values must be ...
    """
    ok = (
        isinstance(thresholds, Thresholds)
        and not math.isnan(thresholds.warning)
        and not math.isnan(thresholds.critical)
        and 0 < thresholds.warning <= thresholds.critical
    )
    if not ok:
        raise parameter_error(
            "thresholds", owner, "Thresholds with 0 < warning <= critical", thresholds
        )


def by_severity(results: list[QualityResult]) -> list[QualityResult]:
    """``results`` sorted worst status first, then by column and check.

    Examples
    --------
    >>> ok = QualityResult("constant", "a", 0.0, None, Status.OK)
    >>> bad = QualityResult("constant", "b", 1.0, None, Status.WARNING)
    >>> [r.column for r in by_severity([ok, bad])]
    ['b', 'a']
    """
    return sorted(results, key=lambda r: (SEVERITY[r.status], r.column or "", r.check))
