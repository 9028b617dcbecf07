"""Drift tests of many columns graded as one family (Holm): two halves of one dataset
rarely fail a warning-level suite, a column that moved still does."""

from __future__ import annotations

import numpy as np
from statsmodels.stats.multitest import multipletests

from mlpulse.core.drift.check import ColumnDriftResult, Status, column_drift
from mlpulse.core.drift.family import family_graded


def _columns(rng: np.random.Generator, *, shift: float = 0.0) -> dict[str, ColumnDriftResult]:
    found = {}
    for i in range(20):
        found[f"n{i}"] = column_drift(
            rng.normal(size=300), rng.normal(size=300), column=f"n{i}", kind="numeric"
        )
    for i in range(5):
        ref, cur = rng.choice(list("abcd"), 300), rng.choice(list("abcd"), 300)
        found[f"c{i}"] = column_drift(ref, cur, column=f"c{i}", kind="categorical")
    found["moved"] = column_drift(
        rng.normal(size=300), rng.normal(shift, 1, 300), column="moved", kind="numeric"
    )
    return found


def test_family_graded_adjusts_p_values_as_statsmodels_holm() -> None:
    results = _columns(np.random.default_rng(0), shift=0.3)
    grades = family_graded(results)
    names = list(results)
    expected = multipletests([results[n].value for n in names], method="holm")[1]
    np.testing.assert_allclose([grades[n].value for n in names], expected, rtol=1e-12)
    assert all(grades[n].adjusted for n in names)


def test_family_graded_warns_on_unchanged_data_at_most_at_alpha_where_columns_alone_do_often() -> (
    None
):
    rng = np.random.default_rng(5)
    alone = family = 0
    runs = 200
    for _ in range(runs):
        results = _columns(rng)
        results.pop("moved")
        alone += any(r.status != Status.OK for r in results.values())
        family += any(g.status != Status.OK for g in family_graded(results).values())
    # 25 columns at alpha 0.05 each: about 1 - 0.95**25 = 72% of runs warn somewhere.
    assert alone / runs > 0.5
    # Holm keeps the family-wise rate at most 5% (binomial sd at 200 runs: 1.5 points).
    assert family / runs <= 0.09


def test_family_graded_still_flags_a_column_that_moved() -> None:
    rng = np.random.default_rng(9)
    flagged = sum(
        family_graded(_columns(rng, shift=0.5))["moved"].status != Status.OK for _ in range(50)
    )
    assert flagged >= 48


def test_family_graded_keeps_the_grade_of_distance_methods() -> None:
    rng = np.random.default_rng(2)
    result = column_drift(
        rng.normal(size=5000), rng.normal(0.5, 1, 5000), column="w", kind="numeric"
    )
    assert not result.p_value
    (grade,) = family_graded({"w": result}).values()
    assert (grade.adjusted, grade.value, grade.status) == (False, result.value, result.status)
