"""Champion–challenger rollout: the pure decision of one step, and a seeded simulation.

A rollout moves a challenger through traffic shares ``plan.steps`` (1% → 5% → 25% →
50% → 100%). At every step but the last (100% is the promotion itself) the caller
passes the statistics of the units assigned *during that step* (a fresh comparison per
step: shares differ, so pooling steps would mix periods unevenly) and :func:`decide`
says what to do now. Each metric is compared by the always-valid mSPRT
(:func:`~mlpulse.core.experiments.sequential.msprt`) on its **relative** lift,
``(challenger - champion) / |champion|`` with a delta-method variance, so it may be
read after every tick and ``tau2`` (default ``0.05**2``: lifts of about 5%) suits
metrics of any scale.

Rules, in order:

1. **Rollback** at once when any metric — a guardrail or the primary — is *harmed*:
   its confidence interval lies entirely on the harmful side of 0 (of ``max_harm``
   when set, a relative margin: 0.02 tolerates a 2% harm). The interval is at level
   ``alpha / (tested steps × metrics)`` (Bonferroni): each mSPRT is valid at any
   stopping time, so an equal challenger is rolled back in at most ``alpha`` of
   rollouts however often one looks (pass the same metrics at every step).
   :func:`decide` keeps no state: it reads the interval of the current look alone,
   valid at any time though looser than the running intersection over looks.
2. **Hold** until the step has ``min_units_per_step`` units in each arm (the smallest
   count over arms and metrics).
3. **Advance** to the next share when that is reached without harm, except at the last
   tested step (50%), where the challenger is
4. **promoted** when the primary is significantly better (always-valid p-value ≤
   ``alpha`` with the lift on the good side), or when ``max_units_per_step`` is reached
   with no harm: "not worse" means no significant harm, so an equivalent challenger (a
   model refresh) ships at the cap — and so does a worse one the cap was too small
   to catch: size the cap with :mod:`~mlpulse.core.experiments.power`. Otherwise
   **hold**; without ``max_units_per_step`` an equivalent challenger holds at the
   last tested step until harm or a win.

>>> plan = RolloutPlan(max_units_per_step=5000)
>>> primary = MetricObservation(
...     "conversion", "proportion", "increase",
...     ProportionStats(20000, 2000), ProportionStats(20000, 2400))
>>> decision = decide(plan, 3, [primary])
>>> decision.action, decision.step_index_next
('promote', 4)
>>> decision.reason
'primary conversion improved: +20.0% [8.9%, 31.1%]'
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from mlpulse.core.experiments.frequentist import relative_change
from mlpulse.core.experiments.sequential import msprt
from mlpulse.core.experiments.sufficient import MeanStats, ProportionStats
from mlpulse.errors import parameter_error

__all__ = [
    "MetricEvidence",
    "MetricObservation",
    "RolloutDecision",
    "RolloutPlan",
    "RolloutResult",
    "SimulatedMetric",
    "decide",
    "simulate_rollout",
]

Action = Literal["hold", "advance", "promote", "rollback"]
Kind = Literal["mean", "proportion"]
Direction = Literal["increase", "decrease"]
Stats = MeanStats | ProportionStats


def _check_positive_int(owner: str, name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise parameter_error(name, owner, f"an int >= {low}", value)


def _check_tau2(owner: str, name: str, value: float) -> None:
    if not (value > 0.0 and math.isfinite(value)):
        raise parameter_error(name, owner, "a float in (0, inf)", value)


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    """Traffic shares (percent of units to the challenger) and the rules' thresholds."""

    steps: tuple[int, ...] = (1, 5, 25, 50, 100)
    min_units_per_step: int = 1000
    max_units_per_step: int | None = None
    alpha: float = 0.05
    tau2: float = 0.0025
    tau2_by_metric: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        owner = "RolloutPlan"
        s = self.steps
        if not (
            len(s) >= 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in s)
            and all(a < b for a, b in itertools.pairwise(s))
            and s[0] >= 1
            and s[-1] == 100
        ):
            raise parameter_error("steps", owner, "increasing ints in [1, 100] ending at 100", s)
        _check_positive_int(owner, "min_units_per_step", self.min_units_per_step, 2)
        if self.max_units_per_step is not None:
            low = self.min_units_per_step
            _check_positive_int(owner, "max_units_per_step", self.max_units_per_step, low)
        if not 0.0 < self.alpha < 1.0:
            raise parameter_error("alpha", owner, "a float in (0, 1)", self.alpha)
        _check_tau2(owner, "tau2", self.tau2)
        for name, value in self.tau2_by_metric.items():
            _check_tau2(owner, f"tau2_by_metric[{name!r}]", value)
        object.__setattr__(self, "tau2_by_metric", dict(self.tau2_by_metric))

    @property
    def last_tested_index(self) -> int:
        """Index of the last step with a champion to compare against (50% by default)."""
        return len(self.steps) - 2


@dataclass(frozen=True, slots=True)
class MetricObservation:
    """One metric's statistics in both arms during the current step.

    ``guardrail=False`` marks the primary metric (exactly one per decision).
    ``max_harm`` is a relative margin (0.02 = 2%) a harm must exceed to roll back.
    """

    name: str
    kind: Kind
    direction: Direction
    champion: Stats
    challenger: Stats
    guardrail: bool = False
    max_harm: float | None = None

    def __post_init__(self) -> None:
        owner = "MetricObservation"
        expected = {"mean": MeanStats, "proportion": ProportionStats}.get(self.kind)
        if expected is None:
            raise parameter_error("kind", owner, "one of 'mean', 'proportion'", self.kind)
        for name in ("champion", "challenger"):
            if not isinstance(getattr(self, name), expected):
                raise parameter_error(name, owner, f"a {expected.__name__}", getattr(self, name))
        if self.direction not in ("increase", "decrease"):
            raise parameter_error("direction", owner, "'increase' or 'decrease'", self.direction)
        if self.max_harm is not None and not (0.0 <= self.max_harm < math.inf):
            raise parameter_error("max_harm", owner, "None or a float in [0, inf)", self.max_harm)


@dataclass(frozen=True, slots=True)
class MetricEvidence:
    """The always-valid comparison of one metric, on the relative lift.

    ``confidence_interval`` is at the plan's ``alpha`` (it excludes 0 exactly when
    ``p_value <= alpha``); ``harm_interval`` at ``harm_alpha``, the Bonferroni share
    that decides ``harmed``.
    """

    name: str
    guardrail: bool
    lift: float
    p_value: float
    confidence_interval: tuple[float, float]
    harm_interval: tuple[float, float]
    harm_alpha: float
    harmed: bool
    improved: bool
    status: Literal["ok", "insufficient_data"]

    def describe(self, *, harm: bool = False) -> str:
        """``+12.3% [4.1%, 20.5%]``: the lift and one of the intervals."""
        low, high = self.harm_interval if harm else self.confidence_interval
        return f"{self.lift:+.1%} [{low:.1%}, {high:.1%}]"


@dataclass(frozen=True, slots=True)
class RolloutDecision:
    """What to do at ``step_index``; ``step_index_next`` is None after a rollback."""

    action: Action
    step_index: int
    step_index_next: int | None
    reason: str
    evidence: tuple[MetricEvidence, ...]
    units_per_arm: int


def _moments(stats: Stats) -> tuple[float, float]:
    """Mean and per-unit variance of one arm."""
    if isinstance(stats, MeanStats):
        return stats.mean, stats.variance
    # The Bernoulli variance at (s + 0.5) / (n + 1): a challenger that converts nobody
    # must still show a variance, or that broken model could never be rolled back.
    smoothed = (stats.successes + 0.5) / (stats.n + 1)
    return stats.rate, smoothed * (1.0 - smoothed)


def _relative(obs: MetricObservation) -> tuple[float, float]:
    """Relative lift and its delta-method variance; NaN variance when undefined."""
    (mean_c, var_c), (mean_t, var_t) = _moments(obs.champion), _moments(obs.challenger)
    n_c, n_t = obs.champion.n, obs.challenger.n
    if n_c < 2 or n_t < 2 or not mean_c:
        return 0.0, math.nan
    _, se = relative_change(mean_c, mean_t, var_c / n_c, var_t / n_t)
    if not math.isfinite(se):
        return 0.0, math.nan
    scale = abs(mean_c)  # a negative baseline keeps "higher is +"
    return (mean_t - mean_c) / scale, se * se


def _evidence(obs: MetricObservation, plan: RolloutPlan, alpha_harm: float) -> MetricEvidence:
    lift, variance = _relative(obs)
    tau2 = plan.tau2_by_metric.get(obs.name, plan.tau2)
    result = msprt(lift, variance, tau2=tau2, alpha=plan.alpha)
    low, high = msprt(lift, variance, tau2=tau2, alpha=alpha_harm).confidence_interval
    margin = obs.max_harm or 0.0
    sign = 1.0 if obs.direction == "increase" else -1.0
    harmed = high < -margin if sign > 0 else low > margin
    return MetricEvidence(
        name=obs.name,
        guardrail=obs.guardrail,
        lift=lift,
        p_value=result.p_value,
        confidence_interval=result.confidence_interval,
        harm_interval=(low, high),
        harm_alpha=alpha_harm,
        harmed=harmed,
        improved=result.p_value <= plan.alpha and sign * lift > 0,
        status=result.status,
    )


def _label(e: MetricEvidence) -> str:
    return f"{'guardrail' if e.guardrail else 'primary'} {e.name}"


def decide(
    plan: RolloutPlan, step_index: int, observations: Sequence[MetricObservation]
) -> RolloutDecision:
    """Hold, advance, promote or roll back at ``step_index`` (rules in the module docstring).

    ``observations`` hold the primary and every guardrail, for the units of this step.
    """
    owner = "decide"
    if not isinstance(step_index, int) or not 0 <= step_index <= plan.last_tested_index:
        bound = f"an int in [0, {plan.last_tested_index}]"
        raise parameter_error("step_index", owner, bound, step_index)
    names = [o.name for o in observations]
    if sum(not o.guardrail for o in observations) != 1 or len(set(names)) != len(names):
        raise parameter_error(
            "observations", owner, "uniquely named metrics, exactly one primary", names
        )
    alpha_harm = plan.alpha / (plan.last_tested_index + 1) / len(observations)
    evidence = tuple(_evidence(o, plan, alpha_harm) for o in observations)
    units = min(min(o.champion.n, o.challenger.n) for o in observations)
    primary = next(e for e in evidence if not e.guardrail)
    share = plan.steps[step_index]

    def make(action: Action, nxt: int | None, reason: str) -> RolloutDecision:
        return RolloutDecision(action, step_index, nxt, reason, evidence, units)

    harmed = sorted((e for e in evidence if e.harmed), key=lambda e: not e.guardrail)
    if harmed:
        reason = "; ".join(f"{_label(e)} harmed: {e.describe(harm=True)}" for e in harmed)
        return make("rollback", None, reason)
    if units < plan.min_units_per_step:
        reason = f"holding at {share}%: {units} of {plan.min_units_per_step} units per arm"
        return make("hold", step_index, reason)
    if step_index < plan.last_tested_index:
        reason = f"advancing to {plan.steps[step_index + 1]}%: no harm after {units} units per arm"
        return make("advance", step_index + 1, reason)
    if primary.improved:
        return make("promote", step_index + 1, f"{_label(primary)} improved: {primary.describe()}")
    cap = plan.max_units_per_step
    if cap is not None and units >= cap:
        reason = f"no harm after {units} units per arm; {_label(primary)} not worse: "
        return make("promote", step_index + 1, reason + primary.describe())
    reason = f"holding at {share}%: {_label(primary)} not yet better: {primary.describe()}"
    return make("hold", step_index, reason)


@dataclass(frozen=True, slots=True)
class SimulatedMetric:
    """A metric of the simulation: champion ``baseline`` and the challenger's true ``lift``.

    ``baseline`` is a rate for proportions, a mean (with per-unit ``sd``) for means;
    ``lift`` is relative (0.1 = the challenger is 10% higher).
    """

    name: str
    kind: Kind
    direction: Direction
    baseline: float
    lift: float = 0.0
    sd: float = 1.0
    guardrail: bool = False
    max_harm: float | None = None

    def draw(self, rng: np.random.Generator, n: int, challenger: bool) -> Stats:
        """The statistics of ``n`` simulated units of one arm."""
        mean = self.baseline * (1.0 + self.lift) if challenger else self.baseline
        if self.kind == "proportion":
            return ProportionStats(n, int(rng.binomial(n, mean)))
        return MeanStats.from_values(rng.normal(mean, self.sd, size=n))


@dataclass(frozen=True, slots=True)
class RolloutResult:
    """How a simulated rollout ended, and every decision, one per tick."""

    outcome: Literal["promoted", "rolled_back", "unfinished"]
    timeline: tuple[RolloutDecision, ...]


def simulate_rollout(
    plan: RolloutPlan,
    metrics: Sequence[SimulatedMetric],
    *,
    seed: int,
    units_per_tick: int = 2000,
    max_ticks: int = 10_000,
) -> RolloutResult:
    """Run seeded traffic through the steps, calling :func:`decide` after every tick.

    Each tick assigns ``units_per_tick`` units, each to the challenger with the current
    step's share; statistics restart at every step.

    >>> metric = SimulatedMetric("conversion", "proportion", "increase", 0.1, lift=-0.3)
    >>> simulate_rollout(RolloutPlan(), [metric], seed=0).outcome
    'rolled_back'
    """
    _check_positive_int("simulate_rollout", "units_per_tick", units_per_tick, 1)
    _check_positive_int("simulate_rollout", "max_ticks", max_ticks, 1)
    rng = np.random.default_rng(seed)
    step, timeline = 0, []
    empty = {"mean": MeanStats(), "proportion": ProportionStats()}
    arms: dict[str, tuple[Stats, Stats]] = {}
    for _ in range(max_ticks):
        n_t = int(rng.binomial(units_per_tick, plan.steps[step] / 100.0))
        n_c = units_per_tick - n_t
        observations = []
        for m in metrics:
            c, t = arms.get(m.name, (empty[m.kind], empty[m.kind]))
            # mypy cannot see that both operands are of the metric's one kind.
            c = c + m.draw(rng, n_c, False)  # type: ignore[operator]
            t = t + m.draw(rng, n_t, True)  # type: ignore[operator]
            arms[m.name] = (c, t)
            observations.append(
                MetricObservation(m.name, m.kind, m.direction, c, t, m.guardrail, m.max_harm)
            )
        decision = decide(plan, step, observations)
        timeline.append(decision)
        if decision.action == "rollback":
            return RolloutResult("rolled_back", tuple(timeline))
        if decision.action == "promote":
            return RolloutResult("promoted", tuple(timeline))
        if decision.action == "advance":
            step, arms = step + 1, {}
    return RolloutResult("unfinished", tuple(timeline))
