"""From per-arm totals to percent weights: the policies' allocation, the floor, the rounding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlpulse.core.experiments.bandits import UCB1, EpsilonGreedy, ThompsonBernoulli
from mlpulse.services.bandit_allocation import (
    DRAWS,
    ArmTotals,
    best_arm,
    percent_weights,
    probabilities,
)


@pytest.mark.parametrize("seed", range(100))
def test_percent_weights_sum_to_100_and_keep_the_floor_for_any_seed(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 8))
    shares = rng.dirichlet(np.full(k, 0.3)).tolist()
    floor = float(rng.uniform(0, 1 / k))

    weights = percent_weights(shares, floor)

    assert sum(weights) == 100
    assert all(
        isinstance(w, int) and w >= min(math.ceil(round(100 * floor, 9)), 100 // k) for w in weights
    )
    # With a floor of whole percents, largest remainder keeps each weight within one
    # point of its exact share.
    whole = math.floor(100 * floor) / 100
    mixed = [100 * (whole + (1 - k * whole) * p) for p in shares]
    rounded = percent_weights(shares, whole)
    assert sum(rounded) == 100
    assert all(abs(w - m) < 1 for w, m in zip(rounded, mixed, strict=True))


def test_percent_weights_give_all_but_the_floor_to_a_sure_winner() -> None:
    assert percent_weights([0.0, 0.0, 1.0], 0.05) == [5, 5, 90]
    assert percent_weights([0.0, 1.0], 0.0) == [0, 100]


def test_percent_weights_round_a_fractional_floor_up_so_no_arm_goes_below_it() -> None:
    assert percent_weights([0.999, 0.001, 0.0], 0.033) == [92, 4, 4]


def test_percent_weights_split_an_even_allocation_by_largest_remainder_earlier_arm_first() -> None:
    assert percent_weights([1 / 3, 1 / 3, 1 / 3], 0.05) == [34, 33, 33]
    assert percent_weights([0.2, 0.3, 0.5], 1 / 3) == [34, 33, 33]  # the floor is all there is


def test_best_arm_is_the_highest_mean_and_keeps_the_current_champion_on_a_tie() -> None:
    arms = [ArmTotals("a", 10, 2.0), ArmTotals("b", 10, 5.0), ArmTotals("c", 10, 5.0)]

    assert best_arm(arms, "a") == "b"
    assert best_arm(arms, "c") == "c"
    assert best_arm([ArmTotals("a"), ArmTotals("b", 5, 0.0)], "a") == "b"  # data beats none
    assert best_arm([ArmTotals("a"), ArmTotals("b")], "b") == "b"


def _feed(
    policy: UCB1 | EpsilonGreedy | ThompsonBernoulli, rewards: dict[str, list[float]]
) -> None:
    for arm, values in rewards.items():
        for value in values:
            policy.update(arm, value)


REWARDS = {"a": [1.0] * 12 + [0.0] * 88, "b": [1.0] * 30 + [0.0] * 70, "c": [1.0] * 15 + [0.0] * 45}


def _totals() -> list[ArmTotals]:
    return [ArmTotals.from_rewards(arm, values) for arm, values in REWARDS.items()]


@pytest.mark.parametrize(("name", "kind"), [("ucb1", UCB1), ("epsilon_greedy", EpsilonGreedy)])
def test_probabilities_from_totals_equal_the_core_policy_fed_one_reward_at_a_time(
    name: str, kind: type[UCB1 | EpsilonGreedy]
) -> None:
    policy = kind(list(REWARDS))
    _feed(policy, REWARDS)
    expected = policy.weights(np.random.default_rng(0), floor=0.0)

    found = probabilities(name, "proportion", _totals(), seed=0)  # type: ignore[arg-type]

    assert found == pytest.approx([expected[arm] for arm in REWARDS])


def test_thompson_probabilities_from_totals_equal_the_core_beta_bernoulli_policy() -> None:
    policy = ThompsonBernoulli(list(REWARDS))
    _feed(policy, REWARDS)
    expected = policy.weights(np.random.default_rng(7), floor=0.0, draws=DRAWS)

    found = probabilities("thompson", "proportion", _totals(), seed=7)

    assert found == pytest.approx([expected[arm] for arm in REWARDS], abs=1e-12)
    assert max(found) == found[1]  # b converts best


def test_thompson_probabilities_are_reproducible_for_a_seed_and_near_uniform_without_data() -> None:
    empty = [ArmTotals("a"), ArmTotals("b"), ArmTotals("c")]

    first = probabilities("thompson", "proportion", empty, seed=3)

    assert first == probabilities("thompson", "proportion", empty, seed=3)
    assert sum(first) == pytest.approx(1.0)
    assert all(abs(p - 1 / 3) < 0.02 for p in first)


def test_thompson_on_a_mean_reward_favours_the_arm_with_the_higher_mean() -> None:
    rng = np.random.default_rng(5)
    arms = [
        ArmTotals.from_rewards("low", rng.normal(10.0, 4.0, 400).tolist()),
        ArmTotals.from_rewards("high", rng.normal(12.0, 4.0, 400).tolist()),
    ]

    low, high = probabilities("thompson", "mean", arms, seed=0)

    assert high > 0.99 and low < 0.01
