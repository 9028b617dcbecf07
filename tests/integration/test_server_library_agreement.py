"""The server and library mode give the same drift verdict on the same rows.

Library mode: :func:`mlpulse.report` on the raw columns. Server: what the collector and
evaluator do with them: one :class:`~mlpulse.core.profiles.Profile` per minute
(``Profile.from_columns``, as ``services.windows.block_profiles`` builds each minute's
columns), 60 minutes merged into the current window, against a reference that is either
one profile of the uploaded rows (``services.references``) or a pinned window of 60
merged minutes; then :func:`~mlpulse.core.drift.profiled.column_drift_from_profiles`.

Tolerances: same method and same verdict (drifted or not) in every case. Values: without
a shift both sides are noise, each bounded by the 0.05 noise budget of
:func:`~mlpulse.core.drift.categorical.comparable_bins` (categorical) or the sketches'
0.05 sd floor (numeric), so they agree within 0.05; with a shift, within 15% relative
(categorical: measured at most 3%) or 35% (numeric Wasserstein: the KLL sketch's
documented bound in :mod:`mlpulse.core.drift.profiled`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

import mlpulse
from mlpulse.core.drift.profiled import column_drift_from_profiles
from mlpulse.core.profiles import Profile
from mlpulse.core.profiles.window import WindowProfile
from tests.unit.core.test_drift_check import _zipf_probabilities

Sampler = Callable[[np.random.Generator, int, bool], np.ndarray]
ZIPF_K = 30_000
NAMES = np.array([f"c{i}" for i in range(ZIPF_K)], dtype=object)
LOW = np.array(["DE", "FR", "US", "GB", "BR"], dtype=object)


def _normal(rng: np.random.Generator, n: int, shifted: bool) -> np.ndarray:
    return rng.normal(0.3 if shifted else 0.0, 1.0, n)


def _student_t(rng: np.random.Generator, n: int, shifted: bool) -> np.ndarray:
    return rng.standard_t(3, n) + (0.5 if shifted else 0.0)  # heavy tails: sd √3


def _lognormal(rng: np.random.Generator, n: int, shifted: bool) -> np.ndarray:
    return rng.lognormal(0.3 if shifted else 0.0, 1.0, n)


def _low_cardinality(rng: np.random.Generator, n: int, shifted: bool) -> np.ndarray:
    p = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
    return LOW[rng.choice(5, n, p=p[::-1] if shifted else p)]


def _zipf(rng: np.random.Generator, n: int, shifted: bool) -> np.ndarray:
    p = _zipf_probabilities(ZIPF_K)
    if shifted:  # the most frequent category swaps its share with the fifth
        p[[0, 4]] = p[[4, 0]]
    return NAMES[rng.choice(ZIPF_K, n, p=p)]


def _zipf_new_category(rng: np.random.Generator, n: int, shifted: bool) -> np.ndarray:
    values = _zipf(rng, n, False)
    if shifted:
        values[rng.random(n) < 0.08] = "brand_new"
    return values


def _spread_new(rng: np.random.Generator, n: int, shifted: bool) -> np.ndarray:
    # 50 categories; shifted: 5% of rows spread over 100 categories never seen before.
    values = NAMES[rng.choice(50, n, p=_zipf_probabilities(50))]
    if shifted:
        new = rng.random(n) < 0.05
        values[new] = np.array([f"new{i}" for i in rng.integers(0, 100, new.sum())], dtype=object)
    return values


def _boolean(rng: np.random.Generator, n: int, shifted: bool) -> np.ndarray:
    return rng.random(n) < (0.45 if shifted else 0.3)


SAMPLERS: dict[str, tuple[Sampler, str]] = {
    "normal": (_normal, "numeric"),
    "student_t": (_student_t, "numeric"),
    "lognormal": (_lognormal, "numeric"),
    "low_cardinality": (_low_cardinality, "categorical"),
    "zipf_30000": (_zipf, "categorical"),
    "zipf_30000_new_category": (_zipf_new_category, "categorical"),
    "spread_new_categories": (_spread_new, "categorical"),
    "boolean": (_boolean, "boolean"),
}


def _minutes(values: np.ndarray, name: str, kind: str) -> Profile:
    parts = [
        Profile.from_columns({name: part}, {name: kind}) for part in np.array_split(values, 60)
    ]
    return Profile.merge_all(parts)


@pytest.mark.parametrize("reference_mode", ["upload", "pinned"])
@pytest.mark.parametrize("shifted", [False, True], ids=["unshifted", "shifted"])
@pytest.mark.parametrize("n", [5_000, 100_000])
@pytest.mark.parametrize("column", list(SAMPLERS))
def test_server_and_library_agree_on_every_column_kind(
    column: str, n: int, shifted: bool, reference_mode: str
) -> None:
    sampler, kind = SAMPLERS[column]
    rng = np.random.default_rng([n, len(column), shifted])
    reference, current = sampler(rng, n, False), sampler(rng, n, shifted)
    library = mlpulse.report(
        {column: reference}, {column: current}, kinds={column: kind}, quality=False, workers=1
    ).drift.columns[column]
    if reference_mode == "upload":
        ref_profile = WindowProfile.from_columns({column: reference}, {column: kind}).features
    else:
        ref_profile = _minutes(reference, column, kind)
    server = column_drift_from_profiles(
        ref_profile[column], _minutes(current, column, kind)[column], column=column
    )
    assert server.method == library.method
    assert library.drifted == shifted, (library.method, library.value)
    assert server.drifted == shifted, (server.method, server.value, library.value)
    if shifted:
        tolerance = 0.35 if kind == "numeric" else 0.15
        assert server.value == pytest.approx(library.value, rel=tolerance)
    else:
        assert server.value == pytest.approx(library.value, abs=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("shifted", [False, True], ids=["unshifted", "shifted"])
def test_server_and_library_agree_on_a_million_rows_of_30000_categories(shifted: bool) -> None:
    rng = np.random.default_rng(11)
    reference, current = _zipf(rng, 1_000_000, False), _zipf(rng, 1_000_000, shifted)
    library = mlpulse.report({"c": reference}, {"c": current}, quality=False, workers=1)
    server = column_drift_from_profiles(
        WindowProfile.from_columns({"c": reference}, {"c": "categorical"}).features["c"],
        _minutes(current, "c", "categorical")["c"],
        column="c",
    )
    result = library.drift.columns["c"]
    assert server.drifted == result.drifted == shifted
    assert server.value == pytest.approx(result.value, abs=0.05 if not shifted else 0.04)


def test_library_leaves_datetime_columns_out_and_says_why() -> None:
    # The server has no datetime profile: a datetime feature arrives as text. In library
    # mode a datetime column is the rows' time; later rows always "drift" in it.
    reference = pd.DataFrame(
        {"at": pd.date_range("2024-01-01", periods=2000, freq="h"), "x": np.arange(2000.0)}
    )
    current = pd.DataFrame(
        {
            "at": pd.date_range("2025-01-01", periods=2000, freq="h", tz="UTC"),
            "x": np.arange(2000.0),
        }
    )
    result = mlpulse.report(reference, current)
    assert list(result.drift.columns) == ["x"]
    assert "datetime column" in result.to_dict()["skipped"]["at"]
    assert all(q["column"] != "at" for q in result.to_dict()["quality"])
    forced = mlpulse.report(reference, current, kinds={"at": "numeric"}, quality=False)
    assert forced.drift.columns["at"].drifted  # a year later, as seconds since the epoch


@pytest.mark.parametrize("shifted", [False, True], ids=["unshifted", "shifted"])
@pytest.mark.parametrize(
    "column",
    [
        "low_cardinality",
        "zipf_30000",
        "zipf_30000_new_category",
        "spread_new_categories",
        "boolean",
    ],
)
def test_server_and_library_give_the_same_p_value_on_few_rows(column: str, shifted: bool) -> None:
    # Up to 1,000 rows the tests are p-value tests (chi-square, two-proportion z) and the
    # profiles of 800 rows hold exact counts (fewer than 1,000 categories), so the server
    # computes the library's value exactly, merged from 60 minutes or not.
    sampler, kind = SAMPLERS[column]
    rng = np.random.default_rng([800, len(column), shifted])
    reference, current = sampler(rng, 800, False), sampler(rng, 800, shifted)
    library = mlpulse.report(
        {column: reference}, {column: current}, kinds={column: kind}, quality=False, workers=1
    ).drift.columns[column]
    server = column_drift_from_profiles(
        _minutes(reference, column, kind)[column],
        _minutes(current, column, kind)[column],
        column=column,
    )
    assert server.method == library.method in ("chi_square", "proportion_z")
    assert server.value == pytest.approx(library.value, rel=1e-9, abs=1e-300)
    assert server.status is library.status
