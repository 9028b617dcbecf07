"""The statistics of one experiment's results, and their plain-language verdicts. Pure.

Per metric, each variant's per-unit values are compared with the control's by the
experiment's method:

- ``fixed``: Welch's t test (means) or the two-proportion z test (proportions);
- ``sequential``: the mSPRT always-valid p-value and confidence sequence at the current
  look, with the mixing variance tau² = (10% of the control's estimate)², tuned for a
  10% lift (see :func:`mlpulse.core.experiments.sequential.msprt`);
- ``group_sequential``: Welch's t statistic (means) or the unpooled two-proportion z
  (proportions) against the Lan–DeMets boundary of the current look (see
  :func:`plan_look`); ``ci`` is the repeated confidence interval ``difference ± c_k·se``
  (Jennison & Turnbull 2000, ch. 9), which excludes 0 exactly when the boundary is
  crossed. ``p_value`` is the nominal fixed-sample p-value, for reading only;
- ``bayesian``: chance to beat control (Beta–Binomial for proportions, normal
  approximation for means) with a credible interval.

A metric of ``source="labels"`` holds per-unit means (a unit's accuracy or mean absolute
error) and is compared as a mean whatever its ``kind``.

Guardrails are judged for harm by the mSPRT whatever the method: the check runs at every
evaluator tick, and only an always-valid test keeps false stops at ``alpha`` under that
much peeking.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import msgspec

from mlpulse.core.experiments import (
    MeanStats,
    ProportionStats,
    holm,
    proportion_z_test,
    sample_ratio_mismatch,
    welch_t_test,
)
from mlpulse.core.experiments.bayesian import beta_binomial, normal_means
from mlpulse.core.experiments.sequential import (
    GroupSequentialResult,
    MsprtResult,
    Spending,
    group_sequential_boundaries,
    msprt_means,
    msprt_proportions,
)
from mlpulse.domain.experiments import (
    Comparison,
    ExperimentSpec,
    LookView,
    Method,
    MetricSpec,
    SrmView,
)

Stats = MeanStats | ProportionStats
NAN_PAIR = (math.nan, math.nan)
TAU_SHARE = 0.1  # the mSPRT is tuned for lifts of about 10% of the control's estimate


def unit_stats(
    metric: MetricSpec, units: Sequence[str], totals: dict[str, tuple[float, int]]
) -> Stats:
    """A variant's statistics of ``metric`` over its ``units``, from (sum, count) per unit."""
    if metric.kind == "proportion" and metric.source == "outcomes":
        return ProportionStats(len(units), sum(1 for u in units if totals.get(u, (0.0, 0))[1] > 0))
    if metric.aggregation == "mean":
        values = [totals[u][0] / totals[u][1] for u in units if totals.get(u, (0.0, 0))[1] > 0]
    else:
        values = [totals.get(u, (0.0, 0))[0] for u in units]
    return MeanStats.from_values(values) if values else MeanStats()


def estimate(stats: Stats) -> float:
    return stats.rate if isinstance(stats, ProportionStats) else stats.mean


def _sequential(control: Stats, variant: Stats, alpha: float) -> MsprtResult:
    scale = abs(estimate(control))
    tau2 = (TAU_SHARE * scale) ** 2 if scale > 0 and math.isfinite(scale) else 1e-4
    if isinstance(control, ProportionStats) and isinstance(variant, ProportionStats):
        return msprt_proportions(
            control.n, control.successes, variant.n, variant.successes, tau2=tau2, alpha=alpha
        )
    assert isinstance(control, MeanStats) and isinstance(variant, MeanStats)
    return msprt_means(
        control.n, control.mean, control.variance, variant.n, variant.mean, variant.variance,
        tau2=tau2, alpha=alpha,
    )  # fmt: skip


def _relative(interval: tuple[float, float], base: float) -> tuple[float, float]:
    if base == 0 or not math.isfinite(base):
        return NAN_PAIR
    return (interval[0] / abs(base), interval[1] / abs(base))


def compare(
    method: Method,
    alpha: float,
    control: Stats,
    variant: Stats,
    *,
    name: str,
    version: str,
    boundary: float | None = None,
) -> Comparison:
    """``variant`` against ``control`` by ``method``; ``adjusted_p_value`` is filled later.

    ``boundary`` (``group_sequential``): the |z| to reach at the current look; None
    before the first look, when nothing is tested yet.
    """
    base, value = estimate(control), estimate(variant)
    head = Comparison.blank(name, version, variant.n, value)
    small = control.n < 2 or variant.n < 2
    if small or (isinstance(variant, MeanStats) and not math.isfinite(base + value)):
        return _replace(head, status="insufficient_data", outcome="unknown")
    difference = value - base
    relative = difference / abs(base) if base != 0 else math.nan
    if method == "fixed":
        if isinstance(control, ProportionStats) and isinstance(variant, ProportionStats):
            r = proportion_z_test(control, variant, alpha=alpha)
        else:
            assert isinstance(control, MeanStats) and isinstance(variant, MeanStats)
            r = welch_t_test(control, variant, alpha=alpha)
        return _replace(
            head, status="ok", difference=difference, ci=r.difference_ci, relative=relative,
            relative_ci=_relative(r.difference_ci, base), p_value=r.p_value,
        )  # fmt: skip
    if method == "group_sequential":
        if isinstance(control, ProportionStats) and isinstance(variant, ProportionStats):
            r = proportion_z_test(control, variant, alpha=alpha, pooled=False)
        else:
            assert isinstance(control, MeanStats) and isinstance(variant, MeanStats)
            r = welch_t_test(control, variant, alpha=alpha)
        head = _replace(head, difference=difference, relative=relative, p_value=r.p_value)
        if boundary is None:
            return _replace(head, status="insufficient_data", outcome="unknown")
        half = boundary * r.standard_error if r.standard_error > 0 else 0.0
        ci = (difference - half, difference + half)
        return _replace(head, status="ok", ci=ci, relative_ci=_relative(ci, base))
    if method == "sequential":
        s = _sequential(control, variant, alpha)
        status = "ok" if s.status == "ok" else "insufficient_data"
        return _replace(
            head, status=status, difference=difference, ci=s.confidence_interval,
            relative=relative, relative_ci=_relative(s.confidence_interval, base),
            p_value=s.p_value,
        )  # fmt: skip
    if isinstance(control, ProportionStats) and isinstance(variant, ProportionStats):
        b = beta_binomial(control.n, control.successes, variant.n, variant.successes,
                          credible=1 - alpha, draws=20_000)  # fmt: skip
    else:
        assert isinstance(control, MeanStats) and isinstance(variant, MeanStats)
        b = normal_means(control.n, control.mean, control.variance, variant.n, variant.mean,
                         variant.variance, credible=1 - alpha)  # fmt: skip
    if b.status != "ok":
        return _replace(head, status="insufficient_data", outcome="unknown")
    return _replace(
        head, status="ok", difference=difference, ci=b.lift_interval, relative=relative,
        relative_ci=b.relative_lift_interval or _relative(b.lift_interval, base),
        chance_to_beat=b.chance_to_beat,
    )  # fmt: skip


def _replace(c: Comparison, **changes: object) -> Comparison:
    return msgspec.structs.replace(c, **changes)


def judge(c: Comparison, metric: MetricSpec, method: Method, alpha: float) -> Comparison:
    """Fill ``significant`` and ``outcome`` (better, worse, flat) from the adjusted p-value
    (or, for ``bayesian``, the chance to beat control beyond ``1 - alpha``)."""
    if c.status != "ok":
        return c
    if method == "bayesian":
        up = c.chance_to_beat >= 1 - alpha
        significant = up or c.chance_to_beat <= alpha
    elif method == "group_sequential":  # the repeated interval excludes 0: |z| >= c_k
        significant = c.ci[0] > 0 or c.ci[1] < 0
        up = c.difference > 0
    else:
        significant = c.adjusted_p_value < alpha
        up = c.difference > 0
    if not significant:
        return _replace(c, significant=False, outcome="flat")
    good = up == (metric.direction == "increase")
    return _replace(c, significant=True, outcome="better" if good else "worse")


def harm(c: Comparison, metric: MetricSpec, always_valid: MsprtResult | None) -> bool:
    """Whether a guardrail comparison shows harm: the always-valid interval lies wholly on
    the harmful side of 0, and the relative harm exceeds ``guardrail_max_harm`` if set."""
    if c.status != "ok" or always_valid is None or always_valid.status != "ok":
        return False
    low, high = always_valid.confidence_interval
    harmful = high < 0 if metric.direction == "increase" else low > 0
    if not harmful:
        return False
    limit = metric.guardrail_max_harm
    if limit is None:
        return True
    worse_by = -c.relative if metric.direction == "increase" else c.relative
    return math.isfinite(worse_by) and worse_by > limit


def guardrail_test(control: Stats, variant: Stats, alpha: float) -> MsprtResult | None:
    if control.n < 2 or variant.n < 2:
        return None
    return _sequential(control, variant, alpha)


def srm(spec: ExperimentSpec, units: Mapping[str, Sequence[str]]) -> SrmView:
    """The sample ratio check of the units per variant against the allocation."""
    observed = [len(units[v]) for v in spec.variants]
    r = sample_ratio_mismatch(observed, list(spec.weights().values()))
    return SrmView(
        status=str(r.status),
        p_value=r.p_value,
        observed=dict(zip(spec.variants, r.observed, strict=True)),
        expected=dict(zip(spec.variants, r.expected, strict=True)),
    )


def holm_adjusted(comparisons: Sequence[Comparison]) -> dict[int, Comparison]:
    """Each testable comparison (by ``id``) with Holm's adjusted p-value."""
    tested = [c for c in comparisons if c.status == "ok" and c.p_value == c.p_value]
    if not tested:
        return {}
    adjusted = holm([c.p_value for c in tested])
    return {
        id(c): msgspec.structs.replace(c, adjusted_p_value=float(p))
        for c, p in zip(tested, adjusted, strict=True)
    }


# -- group-sequential looks -------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _boundaries(
    fractions: tuple[float, ...], alpha: float, spending: Spending
) -> GroupSequentialResult:
    # A few hundred ms for many looks (recursive integration): results are read often
    # (the dashboard re-runs them at 12 checkpoints), the fractions change slowly.
    return group_sequential_boundaries(fractions, alpha=alpha, spending=spending, sides=2)


def plan_look(spec: ExperimentSpec, units: int) -> LookView:
    """The current look of a ``group_sequential`` experiment with ``units`` units so far.

    Looks are planned at the information fractions k/K (K = ``spec.looks``) of
    ``spec.planned_units``; the current look is the last one reached, and its boundary
    is Lan–DeMets' at the *actual* fraction t = units / planned (rounded to 0.001, and
    capped at 1: past the plan, the last look spends what is left), with the earlier
    looks at their planned fractions — results are computed on demand, so when each
    earlier look was read is not recorded. Reading the results again before the next
    planned look re-tests the same look with more units; act on a look once, as the
    design assumes, and the error stays within ``alpha``.

    Each of the m = (variants - 1) × metrics comparisons gets boundaries at level
    ``alpha / m`` (Bonferroni): Holm's step-down needs one p-value per comparison,
    which a group-sequential look does not give.
    """
    assert spec.looks is not None and spec.planned_units is not None  # validated by the spec
    looks, planned = spec.looks, spec.planned_units
    m = (len(spec.variants) - 1) * len(spec.metrics())
    t = units / planned
    look = min(looks, math.floor(t * looks + 1e-9))
    view = LookView(look=look, looks=looks, units=units, planned_units=planned,
                    information_fraction=t, spending=spec.spending_function, comparisons=m,
                    boundary=math.inf, alpha_spent=0.0, crossed=False)  # fmt: skip
    if look == 0:
        return view
    current = max(round(min(t, 1.0), 3), look / looks) if look < looks else 1.0
    fractions = (*(k / looks for k in range(1, look)), current)
    found = _boundaries(fractions, spec.alpha / m, spec.spending_function)
    return msgspec.structs.replace(
        view, boundary=found.boundaries[-1], alpha_spent=found.alpha_spent[-1]
    )


def look_verdict(view: LookView) -> str:
    """``Look 2 of 5 (4,100 of 10,000 planned units, 41%): ...`` for the verdict."""
    where = (f"{view.units:,} of {view.planned_units:,} planned units, "
             f"{view.information_fraction:.0%}")  # fmt: skip
    if view.look == 0:
        first = math.ceil(view.planned_units / view.looks)
        return f"Before the first of {view.looks} looks ({where}): it comes at {first:,} units"
    final = view.look == view.looks
    head = f"{'Final look' if final else 'Look'} {view.look} of {view.looks} ({where})"
    bound = f"|z| >= {view.boundary:.3g}" if math.isfinite(view.boundary) else "|z| >= inf"
    if view.crossed:
        return f"{head}: the primary metric crossed the boundary ({bound}); stop here"
    if final:
        return f"{head}: the primary metric did not cross the boundary ({bound})"
    nxt = math.ceil(view.planned_units * (view.look + 1) / view.looks)
    return (f"{head}: the primary metric did not cross the boundary ({bound}); "
            f"continue to look {view.look + 1} at {nxt:,} units")  # fmt: skip


# -- verdicts ---------------------------------------------------------------------------------


def _percent(value: float) -> str:
    return f"{value * 100:+.1f}%"


def effect_text(c: Comparison) -> str:
    """``+2.1% [0.8%, 3.4%]`` (relative), or the absolute difference when the control is 0."""
    if math.isfinite(c.relative):
        low, high = c.relative_ci
        return f"{_percent(c.relative)} [{low * 100:.1f}%, {high * 100:.1f}%]"
    low, high = c.ci
    return f"{c.difference:+.4g} [{low:.4g}, {high:.4g}] (absolute)"


def metric_verdict(metric: str, comparisons: Sequence[Comparison]) -> str:
    """One sentence per metric, e.g. ``B is better on conversion by +2.1% [0.8%, 3.4%]``."""
    parts: list[str] = []
    flat: list[str] = []
    for c in comparisons:
        if c.outcome == "control":
            continue
        if c.status != "ok":
            parts.append(f"not enough data yet on {metric} for {c.variant}")
        elif c.outcome in ("better", "worse"):
            parts.append(f"{c.variant} is {c.outcome} on {metric} by {effect_text(c)}")
        else:
            flat.append(f"{c.variant}: {effect_text(c)}")
    if flat:
        parts.append(f"no significant difference on {metric} ({'; '.join(flat)})")
    text = "; ".join(parts) or f"no variant to compare on {metric}"
    return text[0].upper() + text[1:]


def experiment_verdict(
    primary: str, *, srm_mismatch: bool, breached: Sequence[str], stop_reason: str = ""
) -> str:
    """The headline: the primary metric's verdict, then SRM and guardrails."""
    text = primary
    if breached:
        text += f"; guardrails breached: {', '.join(breached)}"
    else:
        text += "; guardrails hold"
    if srm_mismatch:
        text = "Sample ratio mismatch: the split differs from the allocation, so results are " \
               f"not trustworthy. {text}"  # fmt: skip
    if stop_reason:
        text += f". Stopped: {stop_reason}"
    return text
