"""Many columns tested at once: grading p-value drift tests as one family.

Each p-value method (KS, chi-square, the z-test...) raises a warning on a column with
probability ``alpha`` (0.05 by default) when nothing moved. A pass/fail suite over 25
such columns then fails about 72% of the time on two halves of the same data
(1 - 0.95**25). :func:`family_graded` grades the p-value columns on their Holm-adjusted
p-values instead (Holm, 1979), so the chance that *any* column of an unchanged dataset
warns stays at most ``alpha`` while a column that really moved is still flagged
(Holm rejects at least what Bonferroni does). Distance methods (Wasserstein,
Jensen–Shannon, PSI...) are effect sizes, not tests: their grades are kept.

Holm, S. (1979). A simple sequentially rejective multiple test procedure.
*Scandinavian Journal of Statistics* 6(2), 65–70.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from mlpulse.core.drift.check import ColumnDriftResult, Status, drift_status
from mlpulse.core.experiments.corrections import holm

__all__ = ["FamilyGrade", "family_graded"]


@dataclass(frozen=True, slots=True)
class FamilyGrade:
    """A column's grade within its family: ``value`` is the Holm-adjusted p-value for a
    p-value method (``adjusted`` True), else the method's own value and status."""

    column: str
    value: float
    adjusted: bool
    status: Status


def family_graded(results: Mapping[str, ColumnDriftResult]) -> dict[str, FamilyGrade]:
    """Every column's grade, the p-value columns graded on Holm-adjusted p-values.

    >>> from mlpulse.core.drift.check import column_drift
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> results = {f"c{i}": column_drift(rng.normal(size=300), rng.normal(size=300),
    ...                                   column=f"c{i}", kind="numeric") for i in range(3)}
    >>> sorted({g.adjusted for g in family_graded(results).values()})
    [True]
    """
    tested = [
        name
        for name, r in results.items()
        if r.p_value and not math.isnan(r.value) and r.status != Status.INSUFFICIENT_DATA
    ]
    adjusted = (
        dict(zip(tested, holm([results[n].value for n in tested]), strict=True)) if tested else {}
    )
    grades = {}
    for name, result in results.items():
        if name in adjusted:
            value = float(adjusted[name])
            status = drift_status(value, result.thresholds, p_value=True)
            grades[name] = FamilyGrade(name, value, True, status)
        else:
            grades[name] = FamilyGrade(name, result.value, False, result.status)
    return grades
