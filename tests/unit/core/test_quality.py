"""Data-quality checks: exact values on small data, and injected problems found at scale."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlpulse.core.drift.check import Kind, Status
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.quality import (
    QualityResult,
    cardinality,
    column_changes,
    constant,
    duplicate_rows,
    duplicated_share,
    missing_values,
    out_of_range,
    quality_checks,
    type_errors,
    unseen_share,
)
from mlpulse.core.quality.values import Values, factorize, missing_mask, type_mask
from mlpulse.errors import ParameterError


def _objects(*values: object) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


# --- values -------------------------------------------------------------------------


def test_missing_mask_finds_none_and_nan_in_object_arrays() -> None:
    values = _objects(1, None, float("nan"), np.float32("nan"), "a", np.nan)
    assert missing_mask(values).tolist() == [False, True, True, True, False, True]


def test_missing_mask_copes_with_arrays_inside_an_object_column() -> None:
    values = _objects(np.array([1, 2]), None, float("nan"), "a")
    assert missing_mask(values).tolist() == [False, True, True, False]


def test_missing_mask_finds_nat() -> None:
    values = np.array(["2024-01-01", "NaT"], dtype="datetime64[D]")
    assert missing_mask(values).tolist() == [False, True]


def test_type_mask_numeric_rejects_strings_booleans_and_containers() -> None:
    values = _objects(1, 2.5, np.int32(3), np.float64(4), "5", True, [6], None)
    assert type_mask(values, "numeric").tolist() == [True] * 4 + [False] * 3 + [True]


def test_type_mask_boolean_accepts_zero_and_one_in_typed_arrays() -> None:
    assert type_mask(np.array([0, 1, 2]), "boolean").tolist() == [True, True, False]


def test_factorize_gives_equal_codes_to_equal_strings_across_columns() -> None:
    (a, b), categories = factorize(_objects("b", "a", None), np.array(["a", "c"]))
    assert a.tolist() == [1, 0, -1]
    assert b.tolist() == [0, 2]
    assert categories.tolist() == ["a", "b", "c"]


def test_factorize_codes_values_that_do_not_sort_together() -> None:
    (a, b), categories = factorize(_objects(1, "1", None), _objects("1", 2))
    assert a[2] == -1
    assert categories[a[1]] == categories[b[0]] == "1"
    assert len(categories) == 3


# --- missing values -----------------------------------------------------------------


def test_missing_values_measures_the_rise_of_the_rate() -> None:
    result = missing_values(
        [1.0, np.nan, 3.0, 4.0, 5.0], _objects(1.0, None, np.nan, 4.0, 5.0), alpha=0.5
    )
    assert result.check == "missing_values"
    assert result.value == pytest.approx(0.2)
    assert result.details["reference_rate"] == pytest.approx(0.2)
    assert result.details["current_rate"] == pytest.approx(0.4)
    assert result.status == Status.CRITICAL


def test_missing_values_is_ok_when_the_rate_falls() -> None:
    result = missing_values([None, None, 1.0, 2.0], [1.0, 2.0, 3.0, 4.0])
    assert result.value == pytest.approx(-0.5)
    assert result.status == Status.OK


def test_missing_values_is_insufficient_data_when_current_is_empty() -> None:
    result = missing_values([1.0, 2.0], np.array([], dtype=float))
    assert result.status == Status.INSUFFICIENT_DATA
    assert math.isnan(result.value)


def test_missing_values_rejects_thresholds_out_of_order() -> None:
    with pytest.raises(ParameterError, match="'thresholds' parameter of missing_values"):
        missing_values([1.0], [1.0], thresholds=Thresholds(0.3, 0.1))


# --- type errors --------------------------------------------------------------------


def test_type_errors_counts_strings_in_a_numeric_object_column() -> None:
    current = _objects(1.0, "2", 3, None, "x", 5.5, 6, 7)
    result = type_errors([1.0, 2.0], current, kind="numeric")
    assert result.value == pytest.approx(2 / 7)
    assert result.details["n_errors"] == 2
    assert result.details["n_present"] == 7
    assert result.status == Status.CRITICAL


def test_type_errors_categorical_accepts_anything_but_containers() -> None:
    current = _objects("a", 1, 2.5, True, None, {"k": 1}, (1, 2), "b")
    result = type_errors(["a"], current, kind="categorical")
    assert result.value == pytest.approx(2 / 7)


def test_type_errors_is_zero_for_a_typed_numeric_array() -> None:
    result = type_errors(np.arange(5.0), np.arange(5), kind="numeric")
    assert result.value == 0.0
    assert result.status == Status.OK


def test_type_errors_rejects_an_unknown_kind() -> None:
    with pytest.raises(ParameterError, match="'kind' parameter of type_errors"):
        type_errors([1], [1], kind="text")  # type: ignore[arg-type]


# --- out of range -------------------------------------------------------------------


def test_out_of_range_widens_the_reference_range_by_the_tolerance() -> None:
    reference = np.linspace(0.0, 10.0, 101)
    result = out_of_range(reference, [-0.5, -0.6, 10.5, 10.6, 5.0, np.nan], alpha=0.5)
    assert (result.details["low"], result.details["high"]) == (-0.5, 10.5)
    assert (result.details["n_below"], result.details["n_above"]) == (1, 1)
    assert result.value == pytest.approx(2 / 5)
    assert result.status == Status.CRITICAL


def test_out_of_range_uses_reference_quantiles_when_asked() -> None:
    reference = np.arange(1001.0)
    result = out_of_range(reference, [5.0, 995.0, 500.0], quantiles=(0.01, 0.99), tolerance=0.0)
    assert (result.details["low"], result.details["high"]) == (10.0, 990.0)
    assert result.value == pytest.approx(2 / 3)


def test_out_of_range_ignores_strings_in_an_object_column() -> None:
    result = out_of_range([0.0, 1.0], _objects(0.5, "9", 2.0, None), tolerance=0.0)
    assert result.value == 0.5


def test_out_of_range_is_insufficient_data_without_numbers() -> None:
    assert out_of_range([], [1.0]).status == Status.INSUFFICIENT_DATA


@pytest.mark.parametrize(("option", "value"), [("quantiles", (0.9, 0.1)), ("tolerance", -1.0)])
def test_out_of_range_rejects_bad_options(option: str, value: object) -> None:
    with pytest.raises(ParameterError, match=f"'{option}' parameter of out_of_range"):
        out_of_range([1.0], [1.0], **{option: value})  # type: ignore[arg-type]


# --- unseen categories --------------------------------------------------------------


def test_unseen_share_counts_rows_and_lists_the_top_unseen_categories() -> None:
    current = ["a", "x", "y", "x", "b", None, "x", "y", "z"]
    result = unseen_share(["a", "b", "c"] * 2, current, top=2, alpha=0.5)
    assert result.check == "unseen_categories"
    assert result.value == pytest.approx(6 / 8)
    assert result.details["top_unseen"] == [("x", 3), ("y", 2)]
    assert result.details["n_unseen_categories"] == 3
    assert result.status == Status.CRITICAL


def test_unseen_share_is_zero_when_every_category_was_seen() -> None:
    result = unseen_share([1, 2, 3], [3, 3, 1])
    assert result.value == 0.0
    assert result.details["top_unseen"] == []
    assert result.status == Status.OK


def test_unseen_share_is_insufficient_data_when_current_is_all_missing() -> None:
    assert unseen_share(["a"], [None, None]).status == Status.INSUFFICIENT_DATA


# --- constant -----------------------------------------------------------------------


def test_constant_warns_when_a_column_turns_constant() -> None:
    result = constant([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 2.0, np.nan, 2.0, 2.0, 2.0])
    assert result.status == Status.WARNING
    assert result.value == 1.0
    assert result.details["constant_value"] == 2.0
    assert result.thresholds is None


def test_constant_is_ok_when_the_reference_was_constant_too() -> None:
    assert constant(["a"] * 5, ["b"] * 5).status == Status.OK


def test_constant_can_be_made_critical() -> None:
    assert constant([1, 2, 3, 4, 5], [1] * 5, status=Status.CRITICAL).status == Status.CRITICAL


def test_constant_is_insufficient_data_with_too_few_values() -> None:
    assert constant([1, 2, 3, 4, 5], [1, 1]).status == Status.INSUFFICIENT_DATA


# --- cardinality --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "value", "status"),
    [
        (list("aabbccdd"), 1.0, Status.OK),
        (list("abcdefgh"), 2.0, Status.WARNING),
        (list("aaaaaaaa"), 4.0, Status.CRITICAL),
    ],
)
def test_cardinality_is_the_fold_change_of_distinct_values(
    current: list[str], value: float, status: Status
) -> None:
    result = cardinality(list("abcdabcd"), current)
    assert result.value == value
    assert result.status == status


# --- duplicates ---------------------------------------------------------------------


def test_duplicated_share_treats_nan_and_none_as_equal() -> None:
    data: dict[str, Values] = {
        "x": [1.0, np.nan, np.nan, 1.0, 2.0],
        "y": _objects("a", None, np.nan, "a", "a"),
    }
    assert duplicated_share(data) == pytest.approx(2 / 5)


def test_duplicate_rows_is_judged_against_the_reference_share() -> None:
    reference = {"x": [1, 1, 2, 3]}
    current = {"x": [1, 1, 1, 2]}
    result = duplicate_rows(reference, current, alpha=0.5)
    assert result.column is None
    assert result.details["reference_share"] == 0.25
    assert result.details["current_share"] == 0.5
    assert result.value == 0.25
    assert result.status == Status.CRITICAL


def test_duplicate_rows_rejects_columns_of_different_lengths() -> None:
    with pytest.raises(ParameterError, match="'current' parameter of duplicate_rows"):
        duplicate_rows(None, {"a": [1, 2], "b": [1]})


def test_duplicate_rows_is_insufficient_data_for_an_empty_dataset() -> None:
    assert duplicate_rows(None, {}).status == Status.INSUFFICIENT_DATA


# --- columns ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "status"),
    [
        ({"a": [], "b": []}, Status.OK),
        ({"a": [], "b": [], "c": []}, Status.WARNING),
        ({"a": []}, Status.CRITICAL),
        ({"a": [], "c": []}, Status.CRITICAL),
    ],
)
def test_column_changes_status(current: dict[str, list[int]], status: Status) -> None:
    result = column_changes({"a": [], "b": []}, current)
    assert result.status == status
    assert result.column is None


def test_column_changes_lists_removed_and_added_columns() -> None:
    result = column_changes({"a": [], "b": []}, {"b": [], "d": [], "c": []})
    assert result.details == {"removed": ["a"], "added": ["c", "d"]}
    assert result.value == 3.0


# --- the suite on small data --------------------------------------------------------


def test_quality_checks_sorts_worst_first() -> None:
    results = quality_checks(
        {"x": [float(v) for v in range(100)], "gone": list(range(100))},
        {"x": [float(v) for v in range(80)] + [500.0] * 20},
        kinds={"x": "numeric", "gone": "numeric"},
    )
    order = {Status.CRITICAL: 0, Status.WARNING: 1, Status.INSUFFICIENT_DATA: 2, Status.OK: 3}
    ranks = [order[r.status] for r in results]
    assert ranks == sorted(ranks)
    assert {(r.check, r.column) for r in results if r.status == Status.CRITICAL} == {
        ("columns", None),
        ("out_of_range", "x"),
    }


def test_quality_checks_rejects_an_unknown_column() -> None:
    with pytest.raises(ParameterError, match="'kinds' parameter of quality_checks"):
        quality_checks({"x": [1]}, {"x": [1]}, kinds={"y": "numeric"})


def test_quality_result_is_frozen() -> None:
    result = QualityResult("columns", None, 0.0, None, Status.OK)
    with pytest.raises(AttributeError):
        result.value = 1.0  # type: ignore[misc]


# --- 100,000 rows with injected problems --------------------------------------------

N = 100_000
KINDS: dict[str, Kind] = {
    "income": "numeric",
    "score": "numeric",
    "amount": "numeric",
    "sensor": "numeric",
    "city": "categorical",
    "plan": "categorical",
    "churned": "boolean",
    "dropped": "numeric",
}


def _dataset(rng: np.random.Generator) -> dict[str, np.ndarray]:
    income = rng.lognormal(10.0, 0.5, N)
    income[rng.random(N) < 0.02] = np.nan
    score = np.empty(N, dtype=object)
    score[:] = rng.normal(0.0, 1.0, N).tolist()
    cities = np.array([f"city_{i}" for i in range(20)], dtype=object)
    return {
        "income": income,
        "score": score,
        "amount": rng.normal(100.0, 15.0, N),
        "sensor": rng.normal(20.0, 2.0, N),
        "city": cities[rng.integers(0, 20, N)],
        "plan": np.array(["free", "pro", "team"], dtype=object)[rng.integers(0, 3, N)],
        "churned": rng.random(N) < 0.1,
        "dropped": rng.normal(size=N),
    }


def _broken(rng: np.random.Generator, reference: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A current dataset from the reference's distribution with every problem injected.

    Problems go into rows 5,000-94,999, disjoint per problem; then rows 0-4,999 are copied
    over rows 95,000-99,999 (5% duplicated rows) so no copy undoes an injection.
    """
    current = _dataset(rng)
    rows = 5_000 + rng.permutation(90_000)
    strings, out, unseen = rows[:1_000], rows[1_000:4_000], rows[4_000:7_000]
    income = current["income"]
    income[rng.random(N) < 0.0816] = np.nan  # 2% + 98% x 8.16% = 10% missing
    current["score"][strings] = [f"{v:.3f}" for v in current["score"][strings]]
    current["amount"][out] = reference["amount"].max() + rng.uniform(10.0, 100.0, len(out))
    current["city"][unseen] = np.array([f"new_{i}" for i in range(6)])[rng.integers(0, 6, 3_000)]
    current["sensor"] = np.full(N, 21.5)
    del current["dropped"]
    current["added"] = rng.normal(size=N)
    for values in current.values():
        values[95_000:] = values[:5_000]
    return current


@pytest.fixture(scope="module", params=[0, 1])
def synthetic(request: pytest.FixtureRequest) -> tuple[dict[str, np.ndarray], ...]:
    rng = np.random.default_rng(request.param)
    reference = _dataset(rng)
    return reference, _broken(rng, reference), _dataset(rng)


EXPECTED = {
    ("missing_values", "income"): Status.WARNING,  # +8 points: warning at +5, critical at +20
    # 1% is at the critical threshold, not beyond its sampling error: a warning.
    ("type_errors", "score"): Status.WARNING,
    ("out_of_range", "amount"): Status.WARNING,  # 3%: warning from 1%, critical from 5%
    ("unseen_categories", "city"): Status.WARNING,  # 3%: warning from 1%, critical from 5%
    ("constant", "sensor"): Status.WARNING,
    ("duplicate_rows", None): Status.WARNING,  # +5 points: warning at +1, critical at +10
    ("columns", None): Status.CRITICAL,  # a column removed (and one added)
}


def test_quality_checks_find_every_injected_problem_with_its_status(
    synthetic: tuple[dict[str, np.ndarray], ...],
) -> None:
    reference, broken, _ = synthetic
    results = quality_checks(reference, broken, kinds=KINDS)
    flagged = {(r.check, r.column): r.status for r in results if r.status != Status.OK}
    assert flagged == EXPECTED
    by_key = {(r.check, r.column): r for r in results}
    assert by_key["missing_values", "income"].details["current_rate"] == pytest.approx(
        0.10, abs=0.005
    )
    assert by_key["type_errors", "score"].value == 0.01
    assert by_key["out_of_range", "amount"].value == pytest.approx(0.03, abs=1e-3)
    assert by_key["unseen_categories", "city"].value == pytest.approx(0.03, abs=1e-9)
    assert {c for c, _ in by_key["unseen_categories", "city"].details["top_unseen"]} == {
        f"new_{i}" for i in range(6)
    }
    assert by_key["duplicate_rows", None].details["current_share"] == 0.05
    assert by_key["columns", None].details == {"removed": ["dropped"], "added": ["added"]}


def test_quality_checks_are_all_ok_on_a_clean_current(
    synthetic: tuple[dict[str, np.ndarray], ...],
) -> None:
    reference, _, clean = synthetic
    results = quality_checks(reference, clean, kinds=KINDS)
    assert {(r.check, r.column): r.status for r in results if r.status != Status.OK} == {}
    # 2 dataset-level + 2 per column + 3 more per numeric, 3 per categorical, 1 per boolean
    assert len(results) == 2 + 8 * 2 + 5 * 3 + 2 * 3 + 1 * 1
