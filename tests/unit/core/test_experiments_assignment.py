"""Deterministic assignment: our versioned hash, and GrowthBook's against its own vectors.

The GrowthBook cases below are copied, as literal data, from the cross-SDK test suite
``packages/sdk-js/test/cases.json`` of https://github.com/growthbook/growthbook
(commit 021bf498f75c8491c156184ca1b3a1fbafa1d64e): the sections "hash",
"getBucketRange", "chooseVariation", "getEqualWeights" and "inNamespace" in full, and
a subset of "run" plus the ``bucket`` values that "feature" and "stickyBucket" report.
"""

from __future__ import annotations

from collections import Counter

import pytest

from mlpulse.core.experiments.assignment import (
    BUCKETS,
    assign,
    bucket,
    bucket_ranges,
    choose_variation,
    fnv1a32,
    get_bucket_ranges,
    get_equal_weights,
    growthbook_hash,
    in_namespace,
)
from mlpulse.errors import ParameterError

# cases.json "hash": [seed, value, version, expected]
GB_HASH = [
    ("", "a", 1, 0.22),
    ("", "b", 1, 0.077),
    ("b", "a", 1, 0.946),
    ("ef", "d", 1, 0.652),
    ("asdf", "8952klfjas09ujk", 1, 0.549),
    ("", "123", 1, 0.011),
    ("", '___)((*":&', 1, 0.563),
    ("seed", "a", 2, 0.0505),
    ("seed", "b", 2, 0.2696),
    ("foo", "ab", 2, 0.2575),
    ("foo", "def", 2, 0.2019),
    ("89123klj", "8952klfjas09ujkasdf", 2, 0.124),
    ("90850943850283058242805", "123", 2, 0.7516),
    ("()**(%$##$%#$#", '___)((*":&', 2, 0.0128),
    ("abc", "def", 99, None),
]
# experimentResult.bucket in "feature" and "stickyBucket": seed = rule seed or feature key.
GB_BUCKETS = [
    ("feature", "123", 1, 0.863),  # "empty experiment rule - c"
    ("feature", "456", 1, 0.178),  # "empty experiment rule - a"
    ("feature", "fds", 1, 0.514),  # "empty experiment rule - b"
    ("feature", "123", 2, 0.5231),  # "creates experiments properly"
    ("experiment", "1", 2, 0.4413),  # "Support passthrough variations"
    ("holdout", "1", 2, 0.8043),  # "Support holdout groups"
    ("feature-exp", "d123", 2, 0.6468),  # "performs evaluation without sticky bucket"
    ("feature-exp", "i123", 2, 0.9943),  # "upgrades a sticky bucket doc ..."
]
# "getBucketRange": [name, [numVariations, coverage, weights], expected]
GB_BUCKET_RANGES = [
    ("normal 50/50", (2, 1, None), [(0, 0.5), (0.5, 1)]),
    ("reduced coverage", (2, 0.5, None), [(0, 0.25), (0.5, 0.75)]),
    ("zero coverage", (2, 0, None), [(0, 0), (0.5, 0.5)]),
    ("4 variations", (4, 1, None), [(0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1)]),
    ("uneven weights", (2, 1, [0.4, 0.6]), [(0, 0.4), (0.4, 1)]),
    ("uneven weights, 3 variations", (3, 1, [0.2, 0.3, 0.5]), [(0, 0.2), (0.2, 0.5), (0.5, 1)]),
    (
        "uneven weights, reduced coverage, 3 variations",
        (3, 0.2, [0.2, 0.3, 0.5]),
        [(0, 0.04), (0.2, 0.26), (0.5, 0.6)],
    ),
    ("negative coverage", (2, -0.2, None), [(0, 0), (0.5, 0.5)]),
    ("coverage above 1", (2, 1.5, None), [(0, 0.5), (0.5, 1)]),
    ("weights sum below 1", (2, 1, [0.4, 0.1]), [(0, 0.5), (0.5, 1)]),
    ("weights sum above 1", (2, 1, [0.7, 0.6]), [(0, 0.5), (0.5, 1)]),
    (
        "weights.length not equal to num variations",
        (4, 1, [0.4, 0.4, 0.2]),
        [(0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1)],
    ),
    ("weights sum almost equals 1", (2, 1, [0.4, 0.5999]), [(0, 0.4), (0.4, 0.9999)]),
]
EVEN, REDUCED = [(0, 0.5), (0.5, 1)], [(0, 0.25), (0.5, 0.75)]
# "chooseVariation": [name, n, ranges, expected]
GB_CHOOSE = [
    ("even range, 0.2", 0.2, EVEN, 0),
    ("even range, 0.4", 0.4, EVEN, 0),
    ("even range, 0.6", 0.6, EVEN, 1),
    ("even range, 0.8", 0.8, EVEN, 1),
    ("even range, 0", 0, EVEN, 0),
    ("even range, 0.5", 0.5, EVEN, 1),
    ("reduced range, 0.2", 0.2, REDUCED, 0),
    ("reduced range, 0.4", 0.4, REDUCED, -1),
    ("reduced range, 0.6", 0.6, REDUCED, 1),
    ("reduced range, 0.8", 0.8, REDUCED, -1),
    ("reduced range, 0.25", 0.25, REDUCED, -1),
    ("reduced range, 0.5", 0.5, REDUCED, 1),
    ("zero range", 0.5, [(0, 0.5), (0.5, 0.5), (0.5, 1)], 2),
]
# "getEqualWeights": [n, expected]
GB_EQUAL_WEIGHTS = [
    (-1, []),
    (0, []),
    (1, [1]),
    (2, [0.5, 0.5]),
    (3, [0.33333333] * 3),
    (4, [0.25] * 4),
]
# "inNamespace": [name, id, namespace, expected]; hash("__" + namespace, id, 1)
GB_NAMESPACE = [
    (unit, (ns, *span), expected)
    for unit, ns, span, expected in [
        ("1", "namespace1", (0, 0.4), False),
        ("1", "namespace1", (0.4, 1), True),
        ("1", "namespace2", (0, 0.4), False),
        ("1", "namespace2", (0.4, 1), True),
        ("2", "namespace1", (0, 0.4), False),
        ("2", "namespace1", (0.4, 1), True),
        ("2", "namespace2", (0, 0.4), False),
        ("2", "namespace2", (0.4, 1), True),
        ("3", "namespace1", (0, 0.4), False),
        ("3", "namespace1", (0.4, 1), True),
        ("3", "namespace2", (0, 0.4), True),
        ("3", "namespace2", (0.4, 1), False),
        ("4", "namespace1", (0, 0.4), False),
        ("4", "namespace1", (0.4, 1), True),
        ("4", "namespace2", (0, 0.4), True),
        ("4", "namespace2", (0.4, 1), False),
    ]
]
# "run" (experiment key "my-test", hash version 1, seed = key): id -> variation, or -1
# where the case says the unit is not in the experiment.
GB_RUN = [
    ("default weights", 2, 1.0, None, ["1", "0", "0", "1", "1", "1", "0", "1", "0"]),
    ("uneven weights", 2, 1.0, [0.1, 0.9], ["1", "1", "0", "1", "1", "1", "0", "1", "1"]),
    ("coverage 0.4", 2, 0.4, None, ["-1", "0", "0", "-1", "1", "-1", "0", "1", "-1"]),
    ("three way test", 3, 1.0, None, ["2", "0", "0", "2", "1", "2", "0", "1", "0"]),
]


@pytest.mark.parametrize(("seed", "value", "version", "expected"), GB_HASH + GB_BUCKETS)
def test_growthbook_hash_matches_the_cross_sdk_cases(
    seed: str, value: str, version: int, expected: float | None
) -> None:
    assert growthbook_hash(seed, value, version) == expected


@pytest.mark.parametrize(("name", "args", "expected"), GB_BUCKET_RANGES)
def test_get_bucket_ranges_matches_the_cross_sdk_cases(
    name: str, args: tuple[int, float, list[float] | None], expected: list[tuple[float, float]]
) -> None:
    got = get_bucket_ranges(*args)
    assert len(got) == len(expected)
    for (start, end), (want_start, want_end) in zip(got, expected, strict=True):
        assert start == pytest.approx(want_start, abs=1e-12)
        assert end == pytest.approx(want_end, abs=1e-12)


@pytest.mark.parametrize(("name", "n", "ranges", "expected"), GB_CHOOSE)
def test_choose_variation_matches_the_cross_sdk_cases(
    name: str, n: float, ranges: list[tuple[float, float]], expected: int
) -> None:
    assert choose_variation(n, ranges) == expected


@pytest.mark.parametrize(("n", "expected"), GB_EQUAL_WEIGHTS)
def test_get_equal_weights_matches_the_cross_sdk_cases(n: int, expected: list[float]) -> None:
    assert get_equal_weights(n) == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize(("unit", "namespace", "expected"), GB_NAMESPACE)
def test_in_namespace_matches_the_cross_sdk_cases(
    unit: str, namespace: tuple[str, float, float], expected: bool
) -> None:
    assert in_namespace(unit, namespace) is expected


@pytest.mark.parametrize(("name", "n", "coverage", "weights", "expected"), GB_RUN)
def test_growthbook_hash_ranges_and_choice_reproduce_the_run_cases(
    name: str, n: int, coverage: float, weights: list[float] | None, expected: list[str]
) -> None:
    ranges = get_bucket_ranges(n, coverage, weights)
    got = [
        str(choose_variation(growthbook_hash("my-test", str(unit), 1) or 0.0, ranges))
        for unit in range(1, 10)
    ]
    assert got == expected


def test_growthbook_run_cases_with_seed_and_hash_version_2() -> None:
    # "Uses seed and hash version" and "Uses seed with weights/coverage": id "1" -> 1.
    n = growthbook_hash("foo", "1", 2)
    assert n is not None
    assert choose_variation(n, [(0, 0.5), (0.5, 1.0)]) == 1
    assert choose_variation(n, get_bucket_ranges(2, 0.99, [0.5, 0.5])) == 1


def test_fnv1a32_matches_the_reference_vectors() -> None:
    # Landon Noll's FNV-1a 32-bit test vectors (isthe.com/chongo/tech/comp/fnv).
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C
    assert fnv1a32("foobar") == 0xBF9CF968


def test_fnv1a32_units_agree_on_ascii_and_differ_beyond_it() -> None:
    for text in ("", "abc", "8952klfjas09ujkasdf"):
        assert fnv1a32(text) == fnv1a32(text, unit="codepoint") == fnv1a32(text, unit="utf8")
    assert fnv1a32("é") == fnv1a32("é", unit="codepoint") != fnv1a32("é", unit="utf8")
    assert fnv1a32("😀") != fnv1a32("😀", unit="codepoint")  # a surrogate pair in UTF-16


def test_fnv1a32_rejects_an_unknown_unit() -> None:
    with pytest.raises(ParameterError, match="'unit' parameter of fnv1a32"):
        fnv1a32("a", unit="ucs4")  # type: ignore[arg-type]  # deliberately wrong


def test_bucket_version_1_is_frozen() -> None:
    # Changing any of these values needs a new hash version, never an edit of version 1.
    assert bucket("checkout-button", "user-42") == 8099
    assert bucket("exp", "u1") == 3435
    assert bucket("exp", "u2") == 5530
    assert bucket("", "") == 8957


def test_bucket_is_uniform_over_the_buckets() -> None:
    counts = Counter(bucket("uniformity", str(u)) * 10 // BUCKETS for u in range(20_000))
    assert set(counts) == set(range(10))
    assert all(1_800 < c < 2_200 for c in counts.values())  # 2,000 ± ~4.7 sd


def test_bucket_rejects_an_unknown_version() -> None:
    with pytest.raises(ParameterError, match="'version' parameter of bucket"):
        bucket("e", "u", version=2)


def test_bucket_ranges_split_the_buckets_by_weight() -> None:
    assert bucket_ranges([0.2, 0.3, 0.5]) == [(0, 2000), (2000, 5000), (5000, 10000)]
    assert bucket_ranges([1, 1, 1]) == [(0, 3333), (3333, 6667), (6667, 10000)]
    assert bucket_ranges([0.2, 0.3, 0.5], coverage=0.29) == [(0, 580), (2000, 2870), (5000, 6450)]


@pytest.mark.parametrize("weights", [[], [-1, 2], [0, 0], [float("nan"), 1]])
def test_bucket_ranges_reject_bad_weights(weights: list[float]) -> None:
    with pytest.raises(ParameterError, match="'weights' parameter of bucket_ranges"):
        bucket_ranges(weights)


def test_assign_keeps_every_enrolled_unit_when_coverage_grows() -> None:
    weights = {"control": 0.5, "a": 0.25, "b": 0.25}
    units = [f"user-{u}" for u in range(5_000)]
    previous: dict[str, str] = {}
    for coverage in (0.01, 0.1, 0.37, 0.5, 0.9, 1.0):
        current = {u: v for u in units if (v := assign("growth", u, weights, coverage=coverage))}
        assert all(current[u] == v for u, v in previous.items())
        assert abs(len(current) / len(units) - coverage) < 0.03
        previous = current
    shares = Counter(previous.values())
    assert shares["control"] / len(units) == pytest.approx(0.5, abs=0.03)
    assert shares["a"] / len(units) == pytest.approx(0.25, abs=0.03)


def test_assign_is_independent_across_experiments() -> None:
    weights = {"control": 0.5, "treatment": 0.5}
    pairs = Counter(
        (assign("exp-1", str(u), weights), assign("exp-2", str(u), weights)) for u in range(4_000)
    )
    assert all(850 < c < 1_150 for c in pairs.values()) and len(pairs) == 4
