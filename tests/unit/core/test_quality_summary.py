"""Column summaries, row hashing for duplicates and infinities, against plain numpy oracles."""

from __future__ import annotations

import numpy as np
import pytest

from mlpulse.core.drift.check import Status
from mlpulse.core.quality import (
    cardinality,
    constant,
    duplicated_share,
    non_finite,
    out_of_range,
    quality_checks,
)
from mlpulse.core.quality.duplicates import _n_distinct
from mlpulse.core.quality.summary import summarize
from mlpulse.core.quality.values import factorize

# --- duplicates: hashing rows gives np.unique(axis=0)'s answer ---------------------------


def _oracle(data: dict[str, np.ndarray]) -> float:
    codes = np.column_stack([factorize(np.asarray(c))[0][0] for c in data.values()])
    n_rows = codes.shape[0]
    return float(n_rows - np.unique(codes, axis=0).shape[0]) / n_rows


@pytest.mark.parametrize("seed", range(5))
def test_duplicated_share_matches_unique_rows_on_low_cardinality_mixed_columns(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 5_000
    floats = rng.integers(0, 3, n).astype(float)
    floats[rng.random(n) < 0.1] = np.nan
    floats[rng.random(n) < 0.1] = -0.0  # equal to 0.0
    labels = np.array(["a", "b", None], dtype=object)[rng.integers(0, 3, n)]
    data = {
        "f": floats,
        "i": rng.integers(0, 4, n),
        "b": rng.random(n) < 0.5,
        "s": labels,
        "u": rng.integers(0, 2, n).astype(np.uint8),
        "t": np.array(["2024-01-01", "NaT"], dtype="datetime64[D]")[rng.integers(0, 2, n)],
    }
    assert duplicated_share(data) == pytest.approx(_oracle(data))


def test_duplicated_share_is_zero_for_continuous_columns_without_touching_the_others() -> None:
    rng = np.random.default_rng(0)
    data = {"x": rng.normal(size=10_000), "s": np.array(["a"] * 10_000, dtype=object)}
    assert duplicated_share(data) == 0.0


def test_duplicated_share_counts_exact_copies_among_many_columns() -> None:
    rng = np.random.default_rng(1)
    data = {f"c{i}": rng.normal(size=2_000) for i in range(20)}
    for values in data.values():
        values[1_900:] = values[:100]
    assert duplicated_share(data) == pytest.approx(0.05)


def test_n_distinct_survives_rows_whose_hashes_collide() -> None:
    # Sign flips of two columns would cancel in a plain xor-multiply hash; whatever the
    # hash does, the exact comparison of the candidates keeps the count right.
    x = np.array([1.0, -1.0, 2.0, 1.0])
    y = np.array([2.0, -2.0, 3.0, 2.0])
    assert _n_distinct([x, y], 4) == 3


# --- summaries agree with the checks' plain definitions ---------------------------------


def test_summarize_counts_categories_missing_and_ill_typed_values_in_one_pass() -> None:
    values = np.array(["b", "a", None, float("nan"), ("t",), "b"], dtype=object)
    summary = summarize(values, "categorical")
    assert summary.counts == {"a": 1, "b": 2, ("t",): 1}  # a tuple is a container: ill-typed
    assert (summary.n_missing, summary.n_wrong, summary.n_rows) == (2, 1, 6)


def test_summarize_leaves_unhashable_values_out_of_the_categories() -> None:
    values = np.empty(4, dtype=object)
    values[:] = ["a", ["b"], "a", None]
    summary = summarize(values, "categorical")
    assert summary.counts == {"a": 2}
    assert (summary.n_missing, summary.n_wrong) == (1, 1)


@pytest.mark.parametrize("seed", range(3))
def test_cardinality_and_constant_match_numpy_unique(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.integers(0, 50, 1_000).astype(float)
    current = rng.integers(0, 20, 1_000).astype(float)
    current[:10] = np.nan
    result = cardinality(reference, current)
    n_ref, n_cur = np.unique(reference).size, np.unique(current[~np.isnan(current)]).size
    assert (result.details["n_distinct_reference"], result.details["n_distinct_current"]) == (
        n_ref,
        n_cur,
    )
    assert result.value == pytest.approx(max(n_ref / n_cur, n_cur / n_ref))
    assert constant(reference, np.full(100, 7.0)).status == Status.WARNING
    assert constant(reference, np.full(100, 7.0)).details["constant_value"] == 7.0
    assert constant(reference, current).status == Status.OK


def test_constant_sees_an_infinity_as_a_second_value() -> None:
    current = np.full(10, 3.0)
    current[0] = np.inf
    assert constant(np.arange(10.0), current).status == Status.OK


# --- infinities ------------------------------------------------------------------------


def test_non_finite_counts_positive_and_negative_infinities() -> None:
    current = np.ones(1_000)
    current[:20] = np.inf
    current[20:30] = -np.inf
    current[30:40] = np.nan
    result = non_finite(np.ones(1_000), current)
    assert result.value == pytest.approx(30 / 990)
    assert (result.details["n_positive_inf"], result.details["n_negative_inf"]) == (20, 10)
    assert result.status == Status.CRITICAL


def test_non_finite_is_ok_without_infinities_and_insufficient_without_numbers() -> None:
    assert non_finite(np.ones(10), np.arange(10.0)).status == Status.OK
    assert non_finite(np.ones(10), np.full(3, np.nan)).status == Status.INSUFFICIENT_DATA


def test_out_of_range_leaves_infinities_to_non_finite() -> None:
    current = np.linspace(0.0, 1.0, 100)
    current[:5] = np.inf
    current[5:10] = -np.inf
    result = out_of_range(np.linspace(0.0, 1.0, 1_000), current)
    assert result.value == 0.0
    assert result.details["n_current"] == 90


def test_quality_checks_report_infinities_in_an_object_column_instead_of_raising() -> None:
    reference = {"x": np.linspace(0.0, 1.0, 500)}
    current_values = np.empty(500, dtype=object)
    current_values[:] = [float("inf")] * 50 + [float("-inf")] * 50 + [0.5] * 400
    results = quality_checks(reference, {"x": current_values}, kinds={"x": "numeric"})
    by_check = {r.check: r for r in results}
    assert by_check["non_finite"].value == pytest.approx(0.2)
    assert by_check["non_finite"].status == Status.CRITICAL
    assert by_check["out_of_range"].value == 0.0


def test_summarize_reads_dates_asked_for_as_numbers_as_seconds() -> None:
    values = np.array(["1970-01-01T00:00:10", "NaT", "1970-01-02"], dtype="datetime64[s]")
    summary = summarize(values, "numeric")
    assert (summary.n_missing, summary.n_wrong, summary.n_numbers) == (1, 0, 2)
    assert (summary.minimum, summary.maximum) == (10.0, 86_400.0)
