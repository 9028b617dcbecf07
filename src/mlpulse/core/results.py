"""Result types shared by the statistics of the core."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HypothesisTestResult:
    """A two-sample test: its statistic and the p-value of "both samples share a distribution".

    ``p_value`` is in [0, 1]. ``n_reference`` and ``n_current`` are the sample sizes the
    test used (after missing values were removed), so a reader can judge its power.
    """

    statistic: float
    p_value: float
    n_reference: int
    n_current: int
