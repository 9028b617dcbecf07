"""Multi-armed bandit policies that keep the allocation weights the model router applies.

Every policy has the same shape: ``update(arm, reward, context=None)`` learns from one
observed reward, ``choose(rng, context=None)`` picks an arm for one request, and
``weights(rng, *, floor=0.01, draws=1000)`` returns allocation probabilities (summing to
1, each at least ``floor``) for a router that splits traffic by weight. ``state`` is
plain data (lists, floats, str) that survives JSON; :func:`from_state` rebuilds a policy.
Arms are str labels (model or variant names). Non-contextual policies ignore ``context``.
"""

from __future__ import annotations

import abc
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt

from mlpulse.errors import parameter_error

__all__ = [
    "UCB1",
    "EpsilonGreedy",
    "LinUCB",
    "SimulationResult",
    "ThompsonBernoulli",
    "ThompsonGaussian",
    "from_state",
    "simulate",
]

FloatArray = npt.NDArray[np.float64]


def _finite(value: object) -> bool:
    return isinstance(value, numbers.Real) and math.isfinite(value)


def _positive(value: float, name: str, owner: str, *, zero: bool = False) -> float:
    ok = _finite(value) and value >= 0
    if not ok or (value == 0 and not zero):
        raise parameter_error(name, owner, f"a float in {'[' if zero else '('}0, inf)", value)
    return float(value)


def _argmax(scores: FloatArray, rng: np.random.Generator) -> int:
    best = np.flatnonzero(scores == scores.max())
    return int(best[0]) if best.size == 1 else int(rng.choice(best))


def _ties(scores: FloatArray) -> FloatArray:
    best: FloatArray = (scores == scores.max()).astype(float)
    return best / float(best.sum())


class _Policy(abc.ABC):
    """Shared bookkeeping: per-arm count, running mean and sum of squares (Welford)."""

    name: ClassVar[str]
    _extra: ClassVar[tuple[str, ...]] = ()

    def __init__(self, arms: Sequence[str]) -> None:
        arms_t = tuple(arms) if not isinstance(arms, str) else ()
        if (
            not arms_t
            or len(set(arms_t)) != len(arms_t)
            or not all(isinstance(a, str) for a in arms_t)
        ):
            raise parameter_error(
                "arms", type(self).__name__, "distinct str labels, at least one", arms
            )
        self._arms = arms_t
        self._index = {a: i for i, a in enumerate(arms_t)}
        self._n = np.zeros(len(arms_t))
        self._mean = np.zeros(len(arms_t))
        self._m2 = np.zeros(len(arms_t))

    @property
    def arms(self) -> tuple[str, ...]:
        """The arm labels, in the order the policy was built with."""
        return self._arms

    @property
    def pulls(self) -> dict[str, int]:
        """How many rewards each arm has received."""
        return {a: int(n) for a, n in zip(self._arms, self._n, strict=True)}

    @property
    def means(self) -> dict[str, float]:
        """The mean reward observed per arm (0.0 before any)."""
        return dict(zip(self._arms, self._mean.tolist(), strict=True))

    def update(self, arm: str, reward: float, context: Sequence[float] | None = None) -> None:
        """Learn from one reward of ``arm`` (seen with ``context``, for contextual policies)."""
        owner = type(self).__name__
        i = self._index.get(arm, -1) if isinstance(arm, str) else -1
        if i < 0:
            raise parameter_error("arm", owner, f"one of {list(self._arms)}", arm)
        if not _finite(reward):
            raise parameter_error("reward", owner, "a finite float", reward)
        self._check_reward(float(reward))
        x = self._context(context)
        self._n[i] += 1
        delta = reward - self._mean[i]
        self._mean[i] += delta / self._n[i]
        self._m2[i] += delta * (reward - self._mean[i])
        if x is not None:
            self._learn(i, float(reward), x)

    def choose(self, rng: np.random.Generator, context: Sequence[float] | None = None) -> str:
        """The arm to serve one request (ties broken at random with ``rng``)."""
        return self._arms[self._choose(rng, self._context(context))]

    def weights(
        self,
        rng: np.random.Generator,
        *,
        floor: float = 0.01,
        draws: int = 1000,
        context: Sequence[float] | None = None,
    ) -> dict[str, float]:
        """Allocation probabilities: ``floor + (1 - k·floor)·p`` with ``p`` the policy's own.

        ``floor`` in [0, 1/k] keeps every arm explored; ``draws`` is the Monte Carlo size
        for Thompson sampling (others compute ``p`` exactly and ignore it).
        """
        k, owner = len(self._arms), type(self).__name__
        if not _finite(floor) or not 0 <= floor <= 1 / k:
            raise parameter_error("floor", owner, f"a float in [0, {1 / k:g}]", floor)
        if not isinstance(draws, int) or draws < 1:
            raise parameter_error("draws", owner, "an int in [1, inf)", draws)
        p = self._probabilities(rng, draws, self._context(context))
        return dict(zip(self._arms, (floor + (1 - k * floor) * p).tolist(), strict=True))

    @property
    def state(self) -> dict[str, Any]:
        """Everything the policy knows, as JSON-ready plain data."""
        stats = {s: getattr(self, f"_{s}").tolist() for s in ("n", "mean", "m2", *self._extra)}
        return {
            "policy": self.name,
            "arms": list(self._arms),
            "params": self._params(),
            "stats": stats,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
        """Rebuild a policy from its :attr:`state`."""
        policy = cls(state["arms"], **state["params"])
        for key, values in state["stats"].items():
            setattr(policy, f"_{key}", np.asarray(values, dtype=float))
        return policy

    def _check_reward(self, reward: float) -> None:
        return None

    def _context(self, context: Sequence[float] | None) -> FloatArray | None:
        return None

    def _learn(self, i: int, reward: float, x: FloatArray) -> None:
        return None

    @abc.abstractmethod
    def _params(self) -> dict[str, Any]:
        """The policy's parameters, as its state stores them."""

    @abc.abstractmethod
    def _choose(self, rng: np.random.Generator, x: FloatArray | None) -> int:
        """The index of the arm to play."""

    @abc.abstractmethod
    def _probabilities(
        self, rng: np.random.Generator, draws: int, x: FloatArray | None
    ) -> FloatArray:
        """Each arm's chance of being played (before the exploration floor)."""


class _Thompson(_Policy):
    @abc.abstractmethod
    def _sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        """Draws from each arm's posterior of its mean, shaped ``size + (arms,)``."""

    def _choose(self, rng: np.random.Generator, x: FloatArray | None) -> int:
        return _argmax(self._sample(rng, (len(self._arms),)), rng)

    def _probabilities(
        self, rng: np.random.Generator, draws: int, x: FloatArray | None
    ) -> FloatArray:
        # P(arm is the posterior argmax), by Monte Carlo: the allocation Thompson sampling
        # makes in expectation (Russo et al. 2018, "A tutorial on Thompson sampling", §3).
        winners = self._sample(rng, (draws, len(self._arms))).argmax(axis=1)
        return np.bincount(winners, minlength=len(self._arms)) / draws


class ThompsonBernoulli(_Thompson):
    """Thompson sampling for rewards in [0, 1] with a Beta(prior_alpha, prior_beta) prior.

    The posterior of arm *a* is Beta(α₀ + Σr, β₀ + Σ(1 − r)) (Thompson 1933; Chapelle &
    Li 2011, Algorithm 2); fractional rewards count as partial successes.

    Examples
    --------
    >>> policy = ThompsonBernoulli(["a", "b"])
    >>> for _ in range(50):
    ...     policy.update("a", 1.0); policy.update("b", 0.0)
    >>> w = policy.weights(np.random.default_rng(0))
    >>> w["a"] > 0.98, round(sum(w.values()), 9)
    (True, 1.0)
    """

    name = "thompson_bernoulli"

    def __init__(self, arms: Sequence[str], *, prior_alpha: float = 1.0, prior_beta: float = 1.0):
        super().__init__(arms)
        self._a0 = _positive(prior_alpha, "prior_alpha", "ThompsonBernoulli")
        self._b0 = _positive(prior_beta, "prior_beta", "ThompsonBernoulli")

    def _check_reward(self, reward: float) -> None:
        if not 0 <= reward <= 1:
            raise parameter_error("reward", "ThompsonBernoulli", "a float in [0, 1]", reward)

    def _params(self) -> dict[str, Any]:
        return {"prior_alpha": self._a0, "prior_beta": self._b0}

    def _sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        successes = self._n * self._mean
        return rng.beta(self._a0 + successes, self._b0 + self._n - successes, size=size)


class ThompsonGaussian(_Thompson):
    r"""Thompson sampling for real rewards: Gaussian noise, unknown mean.

    The prior on an arm's mean is worth ``prior_count`` rewards of mean ``prior_mean``.
    With ``noise_sd`` known the posterior of the mean is
    :math:`N(\mu_n, \sigma^2/\kappa_n)`, :math:`\kappa_n = \kappa_0 + n`,
    :math:`\mu_n = (\kappa_0\mu_0 + n\bar x)/\kappa_n`. With ``noise_sd=None`` (the
    default) the variance is estimated too, under a Normal–Gamma prior with
    :math:`a_0 = 1, b_0 =` ``prior_noise_sd``²: the mean's posterior is Student's t with
    :math:`2a_n` degrees of freedom and scale :math:`\sqrt{b_n/(a_n\kappa_n)}` (Murphy
    2007, "Conjugate Bayesian analysis of the Gaussian distribution", §3).

    Examples
    --------
    >>> policy = ThompsonGaussian(["a", "b"], noise_sd=1.0)
    >>> for r in (1.0, 3.0, 2.0):
    ...     policy.update("a", r)
    >>> policy.posterior()["a"]  # (mean, sd): 6 / 4 and 1 / sqrt(4)
    (1.5, 0.5)
    """

    name = "thompson_gaussian"

    def __init__(
        self,
        arms: Sequence[str],
        *,
        prior_mean: float = 0.0,
        prior_count: float = 1.0,
        noise_sd: float | None = None,
        prior_noise_sd: float = 1.0,
    ) -> None:
        super().__init__(arms)
        owner = "ThompsonGaussian"
        if not _finite(prior_mean):
            raise parameter_error("prior_mean", owner, "a finite float", prior_mean)
        self._mu0 = float(prior_mean)
        self._k0 = _positive(prior_count, "prior_count", owner)
        self._sd = None if noise_sd is None else _positive(noise_sd, "noise_sd", owner)
        self._b0 = _positive(prior_noise_sd, "prior_noise_sd", owner) ** 2

    def _params(self) -> dict[str, Any]:
        return {"prior_mean": self._mu0, "prior_count": self._k0, "noise_sd": self._sd,
                "prior_noise_sd": math.sqrt(self._b0)}  # fmt: skip

    def _posterior(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        kn = self._k0 + self._n
        mu = (self._k0 * self._mu0 + self._n * self._mean) / kn
        if self._sd is not None:
            return mu, self._sd / np.sqrt(kn), np.full(len(self._arms), np.inf)
        an = 1.0 + self._n / 2
        bn = self._b0 + self._m2 / 2 + self._k0 * self._n * (self._mean - self._mu0) ** 2 / (2 * kn)
        return mu, np.sqrt(bn / (an * kn)), 2 * an

    def posterior(self) -> dict[str, tuple[float, float]]:
        """Per arm, the posterior mean and scale (sd, or t scale) of the arm's mean."""
        mu, scale, _ = self._posterior()
        return {a: (float(m), float(s)) for a, m, s in zip(self._arms, mu, scale, strict=True)}

    def _sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        mu, scale, dof = self._posterior()
        noise = rng.standard_normal(size) if self._sd is not None else rng.standard_t(dof, size)
        return mu + scale * noise


class _Index(_Policy):
    """A deterministic policy: play the best score (ties at random); weights likewise."""

    @abc.abstractmethod
    def _scores(self, x: FloatArray | None) -> FloatArray:
        """Each arm's index (the larger, the more it deserves a play)."""

    def _choose(self, rng: np.random.Generator, x: FloatArray | None) -> int:
        return _argmax(self._scores(x), rng)

    def _probabilities(
        self, rng: np.random.Generator, draws: int, x: FloatArray | None
    ) -> FloatArray:
        return _ties(self._scores(x))


class UCB1(_Index):
    r"""UCB1: play :math:`\arg\max_a \bar x_a + c\sqrt{\ln t / n_a}`, each arm once first.

    ``c = √2`` (the default) is UCB1 of Auer, Cesa-Bianchi & Fischer (2002, "Finite-time
    analysis of the multiarmed bandit problem", *Machine Learning* 47), whose regret
    bound of order :math:`\sum_a \ln t / \Delta_a` assumes rewards in [0, 1]; scale
    ``c`` with the reward range otherwise. UCB1 is deterministic, so its ``weights``
    put all but the floor on the arm it would play (shared among exact ties).

    Examples
    --------
    >>> policy = UCB1(["a", "b"])
    >>> policy.update("a", 1.0); policy.update("b", 0.0)
    >>> policy.choose(np.random.default_rng(0))
    'a'
    """

    name = "ucb1"

    def __init__(self, arms: Sequence[str], *, c: float = math.sqrt(2)) -> None:
        super().__init__(arms)
        self._c = _positive(c, "c", "UCB1", zero=True)

    def _params(self) -> dict[str, Any]:
        return {"c": self._c}

    def _scores(self, x: FloatArray | None) -> FloatArray:
        t = max(float(self._n.sum()), 1.0)
        bonus = self._c * np.sqrt(math.log(t) / np.maximum(self._n, 1))
        return np.where(self._n > 0, self._mean + bonus, np.inf)


class EpsilonGreedy(_Index):
    """Epsilon-greedy: a uniformly random arm with probability ``epsilon``, else the best mean.

    Unplayed arms count as best, so each arm is tried once (Sutton & Barto 2018,
    *Reinforcement Learning*, §2.2). ``weights`` are exact: ε/k plus (1 − ε) on the greedy arm.

    Examples
    --------
    >>> policy = EpsilonGreedy(["a", "b"], epsilon=0.2)
    >>> policy.update("a", 1.0); policy.update("b", 0.0)
    >>> policy.weights(np.random.default_rng(0), floor=0.0)
    {'a': 0.9, 'b': 0.1}
    """

    name = "epsilon_greedy"

    def __init__(self, arms: Sequence[str], *, epsilon: float = 0.1) -> None:
        super().__init__(arms)
        if not _finite(epsilon) or not 0 <= epsilon <= 1:
            raise parameter_error("epsilon", "EpsilonGreedy", "a float in [0, 1]", epsilon)
        self._eps = float(epsilon)

    def _params(self) -> dict[str, Any]:
        return {"epsilon": self._eps}

    def _scores(self, x: FloatArray | None) -> FloatArray:
        return np.where(self._n > 0, self._mean, np.inf)

    def _choose(self, rng: np.random.Generator, x: FloatArray | None) -> int:
        if rng.random() < self._eps:
            return int(rng.integers(len(self._arms)))
        return super()._choose(rng, x)

    def _probabilities(
        self, rng: np.random.Generator, draws: int, x: FloatArray | None
    ) -> FloatArray:
        return self._eps / len(self._arms) + (1 - self._eps) * super()._probabilities(rng, draws, x)


class LinUCB(_Index):
    r"""LinUCB with disjoint linear models (Li, Chu, Langford & Schapire 2010, Algorithm 1).

    Each arm keeps :math:`A_a = I_d + \sum x x^\top` and :math:`b_a = \sum r x`, and
    the policy plays :math:`\arg\max_a \hat\theta_a^\top x + \alpha\sqrt{x^\top A_a^{-1} x}`
    with :math:`\hat\theta_a = A_a^{-1} b_a`. ``context`` (length ``dimension``) is
    required by ``update``, ``choose`` and ``weights``; weights are per context and, as
    the policy is deterministic, all but the floor go to the arm it would play.

    Examples
    --------
    >>> policy = LinUCB(["a", "b"], dimension=2, alpha=0.1)
    >>> for _ in range(20):
    ...     policy.update("a", 1.0, [1, 0]); policy.update("b", 0.0, [1, 0])
    ...     policy.update("a", 0.0, [0, 1]); policy.update("b", 1.0, [0, 1])
    >>> rng = np.random.default_rng(0)
    >>> policy.choose(rng, [1, 0]), policy.choose(rng, [0, 1])
    ('a', 'b')
    """

    name = "linucb"
    _extra = ("a", "b")

    def __init__(self, arms: Sequence[str], *, dimension: int, alpha: float = 1.0) -> None:
        super().__init__(arms)
        if not isinstance(dimension, int) or dimension < 1:
            raise parameter_error("dimension", "LinUCB", "an int in [1, inf)", dimension)
        self._d = dimension
        self._alpha = _positive(alpha, "alpha", "LinUCB", zero=True)
        self._a = np.tile(np.eye(dimension), (len(self._arms), 1, 1))
        self._b = np.zeros((len(self._arms), dimension))

    def _params(self) -> dict[str, Any]:
        return {"dimension": self._d, "alpha": self._alpha}

    def _context(self, context: Sequence[float] | None) -> FloatArray | None:
        try:
            x = np.asarray(context, dtype=float)
        except (TypeError, ValueError):
            x = np.empty(0)
        if x.shape != (self._d,) or not np.isfinite(x).all():
            raise parameter_error("context", "LinUCB", f"{self._d} finite floats", context)
        return x

    def _learn(self, i: int, reward: float, x: FloatArray) -> None:
        self._a[i] += np.outer(x, x)
        self._b[i] += reward * x

    def _scores(self, x: FloatArray | None) -> FloatArray:
        assert x is not None  # LinUCB._context never returns None
        a_inv = np.linalg.inv(self._a)
        theta = np.einsum("kij,kj->ki", a_inv, self._b)
        scores: FloatArray = theta @ x + self._alpha * np.sqrt(np.einsum("i,kij,j->k", x, a_inv, x))
        return scores


_POLICIES: dict[str, type[_Policy]] = {
    cls.name: cls for cls in (ThompsonBernoulli, ThompsonGaussian, UCB1, EpsilonGreedy, LinUCB)
}


def from_state(state: Mapping[str, Any]) -> _Policy:
    """Rebuild any policy from its ``state``.

    >>> policy = UCB1(["a", "b"], c=1.0)
    >>> policy.update("a", 0.5)
    >>> from_state(policy.state).state == policy.state
    True
    """
    name = state.get("policy") if isinstance(state, Mapping) else None
    if name not in _POLICIES:
        raise parameter_error(
            "state", "from_state", f"a policy state, one of {list(_POLICIES)}", name
        )
    return _POLICIES[name].from_state(state)


@dataclass(frozen=True)
class SimulationResult:
    """A simulated run: pseudo-regret after each round and the pulls per arm."""

    cumulative_regret: FloatArray
    pulls: dict[str, int]

    @property
    def regret(self) -> float:
        """The cumulative pseudo-regret at the horizon."""
        return float(self.cumulative_regret[-1]) if self.cumulative_regret.size else 0.0


def simulate(
    policy: _Policy,
    true_means: Mapping[str, float] | Sequence[float],
    horizon: int,
    seed: int,
    *,
    noise: Literal["bernoulli", "gaussian"] = "bernoulli",
) -> SimulationResult:
    r"""Run a non-contextual ``policy`` against arms of known mean, updating it in place.

    Each round the policy chooses, a reward is drawn (Bernoulli of the mean, or the mean
    plus standard-normal noise) and fed back. Regret is the *pseudo*-regret
    :math:`\sum_t (\mu^* - \mu_{a_t})`, which removes the reward noise (Bubeck &
    Cesa-Bianchi 2012, §1). One ``np.random.default_rng(seed)`` drives both.

    >>> result = simulate(UCB1(["a", "b"]), {"a": 0.2, "b": 0.8}, 500, seed=1)
    >>> result.pulls["b"] > 450, result.cumulative_regret.shape
    (True, (500,))
    """
    arms = policy.arms
    try:
        listed = [true_means[a] for a in arms] if isinstance(true_means, Mapping) else true_means
        means = np.asarray(listed, dtype=float)
    except (KeyError, TypeError, ValueError):
        means = np.empty(0)
    low = 0.0 if noise == "bernoulli" else -np.inf
    high = 1.0 if noise == "bernoulli" else np.inf
    if means.shape != (len(arms),) or not ((means >= low) & (means <= high)).all():
        expected = f"a mean per arm of {list(arms)}, in [{low}, {high}] for {noise} rewards"
        raise parameter_error("true_means", "simulate", expected, true_means)
    if noise not in ("bernoulli", "gaussian"):
        raise parameter_error("noise", "simulate", "'bernoulli' or 'gaussian'", noise)
    if not isinstance(horizon, int) or horizon < 0:
        raise parameter_error("horizon", "simulate", "an int in [0, inf)", horizon)
    rng = np.random.default_rng(seed)
    index = {a: i for i, a in enumerate(policy.arms)}
    gaps = np.empty(horizon)
    for t in range(horizon):
        i = index[policy.choose(rng)]
        mu = means[i]
        reward = float(rng.random() < mu) if noise == "bernoulli" else mu + rng.standard_normal()
        policy.update(policy.arms[i], reward)
        gaps[t] = means.max() - mu
    return SimulationResult(np.cumsum(gaps), policy.pulls)
