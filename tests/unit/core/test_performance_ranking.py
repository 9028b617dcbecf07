"""Ranking performance: known values, sklearn's ndcg_score, excluded requests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from mlpulse.core.drift.check import Status
from mlpulse.core.performance import ranking_performance
from mlpulse.core.performance.ranking import METRICS
from mlpulse.errors import InvalidInputError, ParameterError


def test_ranking_performance_of_a_known_case() -> None:
    rankings = [["a", "b", "c", "d"], ["e", "f", "g", "h"], ["i", "j", "k", "l"]]
    relevant = [{"b", "d", "z"}, {"e"}, set()]
    result = ranking_performance(rankings, relevant, k=2)
    assert (result.n, result.k, result.n_excluded, result.status) == (3, 2, 1, Status.OK)
    got = result.metrics
    assert got["precision_at_k"] == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    assert got["hit_rate_at_k"] == pytest.approx(2 / 3)
    assert got["recall_at_k"] == pytest.approx((1 / 3 + 1) / 2)
    idcg = 1 + 1 / math.log2(3)
    assert got["ndcg_at_k"] == pytest.approx(((1 / math.log2(3)) / idcg + 1) / 2)
    assert got["mrr"] == pytest.approx((1 / 2 + 1) / 2)


@pytest.mark.parametrize("k", [1, 3, 5, 10])
@pytest.mark.parametrize("seed", range(6))
def test_ranking_performance_ndcg_matches_sklearn(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    n_items, n_requests = 30, 40
    rankings, relevant, ideal, scores = [], [], [], []
    for _ in range(n_requests):
        shown = rng.permutation(n_items)[:10]
        clicked = set(rng.choice(n_items, rng.integers(1, 5), replace=False).tolist())
        rankings.append(shown.tolist())
        relevant.append(clicked)
        # The equivalent arrays over all items: shown items scored by rank, the rest
        # (relevant items never shown included) below every shown one.
        score = np.full(n_items, -1.0)
        score[shown] = np.arange(10, 0, -1)
        scores.append(score)
        ideal.append([1.0 if item in clicked else 0.0 for item in range(n_items)])
    got = ranking_performance(rankings, relevant, k=k).metrics["ndcg_at_k"]
    assert got == pytest.approx(ndcg_score(np.array(ideal), np.array(scores), k=k), rel=1e-12)


def test_ranking_performance_mrr_looks_past_k() -> None:
    got = ranking_performance([["a", "b", "c"]], [{"c"}], k=1).metrics
    assert got["mrr"] == pytest.approx(1 / 3)
    assert got["hit_rate_at_k"] == 0.0


def test_ranking_performance_counts_a_repeated_item_once() -> None:
    got = ranking_performance([["a", "a", "b"]], [{"a"}], k=2).metrics
    assert got["precision_at_k"] == 0.5
    assert got["ndcg_at_k"] == 1.0


def test_ranking_performance_short_list_counts_missing_ranks_as_misses() -> None:
    assert ranking_performance([["a"]], [{"a"}], k=4).metrics["precision_at_k"] == 0.25


def test_ranking_performance_excludes_every_request_without_relevant_items() -> None:
    result = ranking_performance([["a"], ["b"]], [set(), []], k=1)
    assert result.n_excluded == 2
    assert result.metrics["recall_at_k"] is None
    assert result.metrics["ndcg_at_k"] is None
    assert result.metrics["mrr"] is None
    assert result.metrics["precision_at_k"] == 0.0


@pytest.mark.parametrize(("n", "min_requests"), [(0, 1), (2, 3)])
def test_ranking_performance_reports_insufficient_data_when_few_requests(
    n: int, min_requests: int
) -> None:
    result = ranking_performance([["a"]] * n, [{"a"}] * n, min_requests=min_requests)
    assert result.status == Status.INSUFFICIENT_DATA
    assert result.metrics == dict.fromkeys(METRICS)


@pytest.mark.parametrize("kwargs", [{"k": 0}, {"k": 2.5}, {"min_requests": 0}])
def test_ranking_performance_rejects_bad_parameters(kwargs: dict[str, object]) -> None:
    with pytest.raises(ParameterError):
        ranking_performance([["a"]], [{"a"}], **kwargs)  # type: ignore[arg-type]


def test_ranking_performance_rejects_lists_of_different_lengths() -> None:
    with pytest.raises(InvalidInputError):
        ranking_performance([["a"], ["b"]], [{"a"}])


_REQUEST = st.tuples(
    st.lists(st.integers(0, 20), max_size=15), st.sets(st.integers(0, 20), max_size=6)
)


@settings(max_examples=80, deadline=None)
@given(st.lists(_REQUEST, min_size=1, max_size=10), st.integers(1, 12))
def test_ranking_performance_metrics_are_in_unit_interval(
    requests: list[tuple[list[int], set[int]]], k: int
) -> None:
    rankings, relevant = zip(*requests, strict=True)
    result = ranking_performance(list(rankings), list(relevant), k=k)
    for value in result.metrics.values():
        assert value is None or 0.0 <= value <= 1.0 + 1e-12


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sets(st.integers(0, 50), min_size=1, max_size=8), min_size=1, max_size=10))
def test_ranking_performance_is_perfect_when_relevant_items_come_first(
    relevant: list[set[int]],
) -> None:
    rankings = [[*sorted(items), 100, 101] for items in relevant]
    k = max(len(items) for items in relevant)
    got = ranking_performance(rankings, relevant, k=k).metrics
    assert got["recall_at_k"] == got["ndcg_at_k"] == got["mrr"] == got["hit_rate_at_k"] == 1.0
