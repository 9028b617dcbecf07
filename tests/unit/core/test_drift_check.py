"""Column and dataset drift checks: the default choices flag real shifts and only those."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlpulse.core.drift.check import (
    ColumnCheck,
    Kind,
    Status,
    column_drift,
    dataset_drift,
)
from mlpulse.core.drift.methods import Thresholds
from mlpulse.errors import ParameterError


def _zipf_probabilities(k: int, a: float = 1.1) -> np.ndarray:
    weights = 1.0 / np.arange(1, k + 1) ** a
    return weights / weights.sum()


def _categories(
    rng: np.random.Generator, k: int, n: int, p: np.ndarray | None = None
) -> np.ndarray:
    names = np.array([f"c{i}" for i in range(k)], dtype=object)
    return names[rng.choice(k, size=n, p=_zipf_probabilities(k) if p is None else p)]


SHIFTED = {"normal_0", "lognormal_1", "bimodal_2", "counts_3", "cat_10", "cat_50"}


def _synthetic(
    n: int, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Kind]]:
    """20 numeric columns (normal, lognormal, bimodal, integer counts; some with 2% missing)
    and 5 categorical ones (cardinality 3, 10, 50, 1,000, 20,000); six of them shifted."""
    rng = np.random.default_rng(seed)
    reference: dict[str, np.ndarray] = {}
    current: dict[str, np.ndarray] = {}
    kinds: dict[str, Kind] = {}

    def bimodal(weight: float) -> np.ndarray:
        left = rng.random(n) < weight
        return np.where(left, rng.normal(-2, 1, n), rng.normal(2, 1, n))

    for i in range(5):
        shift = 0.3 if i == 0 else 0.0
        reference[f"normal_{i}"], current[f"normal_{i}"] = (
            rng.normal(0, 1, n),
            rng.normal(shift, 1, n),
        )
        sigma = 1.3 if i == 1 else 1.0
        reference[f"lognormal_{i}"] = rng.lognormal(0, 1, n)
        current[f"lognormal_{i}"] = rng.lognormal(0, sigma, n)
        reference[f"bimodal_{i}"], current[f"bimodal_{i}"] = (
            bimodal(0.5),
            bimodal(0.7 if i == 2 else 0.5),
        )
        lam = 5.0 if i == 3 else 4.0
        reference[f"counts_{i}"] = rng.poisson(4.0, n).astype(float)
        current[f"counts_{i}"] = rng.poisson(lam, n).astype(float)
    for name in ("normal_4", "lognormal_4", "bimodal_4", "counts_4"):  # 2% missing
        for data in (reference, current):
            data[name] = data[name].copy()
            data[name][rng.random(n) < 0.02] = np.nan
    kinds.update(dict.fromkeys(reference, "numeric"))
    for k in (3, 10, 50, 1_000, 20_000):
        name = f"cat_{k}"
        kinds[name] = "categorical"
        reference[name] = _categories(rng, k, n)
        if k == 10:  # the most frequent category swaps its share with the fifth
            p = _zipf_probabilities(k)
            p[[0, 4]] = p[[4, 0]]
            current[name] = _categories(rng, k, n, p)
        elif k == 50:  # a tenth of current rows bring categories never seen before
            values = _categories(rng, k, n)
            new = rng.random(n) < 0.1
            values[new] = np.array([f"new{i}" for i in rng.integers(0, 5, new.sum())], dtype=object)
            current[name] = values
        else:
            current[name] = _categories(rng, k, n)
    return reference, current, kinds


@pytest.mark.parametrize("n", [100_000, pytest.param(1_000_000, marks=pytest.mark.slow)])
def test_dataset_drift_flags_every_shifted_column_and_no_other(n: int) -> None:
    reference, current, kinds = _synthetic(n, seed=42)
    result = dataset_drift(reference, current, kinds=kinds)
    flagged = {name for name, r in result.columns.items() if r.drifted}
    assert flagged == SHIFTED, {n: (r.method, round(r.value, 4)) for n, r in result.columns.items()}
    assert result.drifted_share == pytest.approx(6 / 25)
    assert result.status is Status.OK  # 24% of columns: under the 25% warning share
    unseen = result.columns["cat_50"].details["unseen_categories"]
    assert set(unseen) == {f"new{i}" for i in range(5)}


def test_dataset_drift_weighs_columns_by_importance() -> None:
    reference, current, kinds = _synthetic(20_000, seed=1)
    importances = dict.fromkeys(kinds, 0.01) | {"normal_0": 1.0, "cat_10": 1.0}
    result = dataset_drift(reference, current, kinds=kinds, importances=importances)
    assert result.drifted_share > 0.5
    assert result.status is Status.CRITICAL


def test_column_drift_uses_a_p_value_test_on_small_samples() -> None:
    rng = np.random.default_rng(3)
    small = column_drift(rng.normal(size=300), rng.normal(1.0, 1, 300), kind="numeric")
    assert (small.method, small.p_value, small.status) == ("ks", True, Status.CRITICAL)
    binary = column_drift(rng.random(500) < 0.5, rng.random(500) < 0.8, kind="boolean")
    assert binary.method == "proportion_z" and binary.drifted


def test_column_drift_does_not_flag_an_unshifted_million_rows() -> None:
    rng = np.random.default_rng(4)
    result = column_drift(rng.normal(size=1_000_000), rng.normal(size=1_000_000), kind="numeric")
    assert result.method == "wasserstein"
    assert result.status is Status.OK


def test_column_drift_honours_a_chosen_method_and_thresholds() -> None:
    rng = np.random.default_rng(5)
    check = ColumnCheck(method="psi", thresholds=Thresholds(warning=0.01, critical=0.02))
    result = column_drift(
        rng.normal(size=5000), rng.normal(0.2, 1, 5000), kind="numeric", check=check
    )
    assert (result.method, result.threshold, result.status) == ("psi", 0.01, Status.CRITICAL)


def test_column_drift_says_insufficient_data_for_a_near_empty_window() -> None:
    result = column_drift([1.0, 2.0, 3.0], [np.nan, 1.0], kind="numeric")
    assert result.status is Status.INSUFFICIENT_DATA
    assert math.isnan(result.value)
    assert not result.drifted


def test_column_drift_names_the_methods_it_knows_when_given_another() -> None:
    with pytest.raises(ParameterError, match="'method' parameter of ColumnCheck"):
        column_drift([1.0] * 10, [1.0] * 10, kind="numeric", check=ColumnCheck(method="chi_square"))


def test_dataset_drift_in_threads_gives_the_same_results() -> None:
    reference, current, kinds = _synthetic(20_000, seed=7)
    alone = dataset_drift(reference, current, kinds=kinds)
    threaded = dataset_drift(reference, current, kinds=kinds, workers=2)
    assert threaded == alone
    with pytest.raises(ParameterError, match="'workers' parameter"):
        dataset_drift(reference, current, kinds=kinds, workers=0)


def test_dataset_drift_reports_progress_once_per_column() -> None:
    reference, current, kinds = _synthetic(5_000, seed=8)
    heard: list[tuple[str, int, int]] = []
    dataset_drift(reference, current, kinds=kinds, workers=2, progress=lambda *a: heard.append(a))
    assert sorted(name for name, _, _ in heard) == sorted(kinds)
    assert sorted(done for _, done, _ in heard) == list(range(1, len(kinds) + 1))
    assert {total for _, _, total in heard} == {len(kinds)}
