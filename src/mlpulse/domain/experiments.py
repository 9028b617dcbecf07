"""Experiments: variants (model versions), allocation, metrics, analysis method, results.

An experiment compares versions of one model on units (users, sessions, requests). A
unit's variant is a pure function of (experiment name, unit id, allocation, coverage)
(:func:`mlpulse.core.experiments.assignment.assign`), so results need no exposure log:
the analysis re-assigns every unit it sees in the outcome events.

Metrics are outcome events by name, per unit:

- ``proportion``: the share of the variant's units with at least one such event;
- ``mean`` with ``per_unit="sum"``: the unit's total (0 without events), e.g. revenue
  per user; with ``per_unit="mean"``: the unit's average value over units that have the
  event, e.g. latency or an error flag per request.

A variant's units are those with any outcome named by the experiment's metrics or by
``exposure`` (an outcome serving code logs when the unit is exposed, so that units that
never convert count too).
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from mlpulse.domain.registry import Name
from mlpulse.errors import InvalidInputError

Unit = Literal["user", "session", "request"]
Method = Literal["fixed", "sequential", "bayesian"]
ExperimentState = Literal["draft", "running", "stopped"]
Role = Literal["primary", "secondary", "guardrail"]


def _invalid(field: str, problem: str) -> InvalidInputError:
    return InvalidInputError(f"{field}: {problem}", field=field)


class MetricSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One metric: the outcome events named ``name``, aggregated per unit.

    ``guardrail_max_harm`` (guardrails only): the relative harm tolerated, e.g. 0.1 for
    "at most 10% worse". A guardrail is breached when its harm is significant and larger
    than this (None: any significant harm).
    """

    name: Name
    kind: Literal["mean", "proportion"] = "proportion"
    direction: Literal["increase", "decrease"] = "increase"
    per_unit: Literal["sum", "mean"] = "sum"
    guardrail_max_harm: float | None = None

    def validate(self, field: str) -> None:
        harm = self.guardrail_max_harm
        if harm is not None and not (math.isfinite(harm) and harm >= 0):
            raise _invalid(f"{field}.guardrail_max_harm", f"must be a float >= 0; got {harm!r}")


class ExperimentSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An experiment as declared, with its lifecycle (``status`` and times)."""

    name: Name
    model: Name
    variants: dict[Name, Name]  # variant name -> model version
    allocation: dict[Name, float]  # variant name -> weight (any positive scale)
    control: Name
    primary: MetricSpec
    unit: Unit = "user"
    secondary: list[MetricSpec] = msgspec.field(default_factory=list)
    guardrails: list[MetricSpec] = msgspec.field(default_factory=list)
    method: Method = "fixed"
    alpha: float = 0.05
    coverage: float = 1.0  # share of units enrolled; raising it keeps units in place
    exposure: Name | None = None
    description: str = ""
    status: ExperimentState = "draft"
    created_at: float | None = None
    started_at: float | None = None
    stopped_at: float | None = None
    stop_reason: str = ""

    def __post_init__(self) -> None:
        if len(self.variants) < 2:
            raise _invalid("variants", f"needs 2 or more variants; got {len(self.variants)}")
        if set(self.allocation) != set(self.variants):
            raise _invalid(
                "allocation",
                f"must give a weight to each variant {sorted(self.variants)}; "
                f"got {sorted(self.allocation)}",
            )
        for variant, weight in self.allocation.items():
            if not (math.isfinite(weight) and weight > 0):
                raise _invalid(f"allocation.{variant}", f"must be a float > 0; got {weight!r}")
        if self.control not in self.variants:
            raise _invalid(
                "control", f"must be one of {sorted(self.variants)}; got {self.control!r}"
            )
        if not 0 < self.alpha < 0.5:
            raise _invalid("alpha", f"must be a float in (0, 0.5); got {self.alpha!r}")
        if not 0 < self.coverage <= 1:
            raise _invalid("coverage", f"must be a float in (0, 1]; got {self.coverage!r}")
        seen: set[str] = set()
        for field, metric in self.metrics_with_fields():
            metric.validate(field)
            if metric.name in seen:
                raise _invalid(f"{field}.name", f"metric {metric.name!r} is listed twice")
            seen.add(metric.name)

    def metrics_with_fields(self) -> list[tuple[str, MetricSpec]]:
        return [
            ("primary", self.primary),
            *((f"secondary[{i}]", m) for i, m in enumerate(self.secondary)),
            *((f"guardrails[{i}]", m) for i, m in enumerate(self.guardrails)),
        ]

    def metrics(self) -> list[tuple[Role, MetricSpec]]:
        """Every metric with its role: primary first, then secondary, then guardrails."""
        return [
            ("primary", self.primary),
            *(("secondary", m) for m in self.secondary),
            *(("guardrail", m) for m in self.guardrails),
        ]

    def weights(self) -> dict[str, float]:
        """The allocation in the variants' order: the order of the assignment's slots."""
        return {variant: self.allocation[variant] for variant in self.variants}


class Assignment(msgspec.Struct, frozen=True):
    """The variant a unit gets. Outside ``coverage``, or when the experiment is not
    running, the unit gets the control (``enrolled`` false: it is not analysed)."""

    experiment: str
    unit: str
    variant: str
    version: str
    enrolled: bool


class Comparison(msgspec.Struct, frozen=True):
    """One variant on one metric, and (except for the control) its difference to control.

    ``difference`` is variant minus control with ``ci`` (a confidence interval, a
    confidence sequence for ``sequential``, a credible interval for ``bayesian``);
    ``relative`` is variant / control - 1 with ``relative_ci``. ``p_value`` is NaN for
    ``bayesian``, which gives ``chance_to_beat`` instead; ``adjusted_p_value`` is Holm's
    over all comparisons of the experiment. NaN is sent as null.
    """

    variant: str
    version: str
    n: int
    estimate: float
    status: Literal["ok", "insufficient_data", "control"]
    difference: float
    ci: tuple[float, float]
    relative: float
    relative_ci: tuple[float, float]
    p_value: float
    adjusted_p_value: float
    chance_to_beat: float
    significant: bool
    outcome: Literal["better", "worse", "flat", "unknown", "control"]

    # No field defaults: NaN defaults would put NaN (not JSON) into the OpenAPI schema.
    @classmethod
    def blank(cls, variant: str, version: str, n: int, estimate: float) -> Comparison:
        """A row without a comparison: the control's (or one to fill in)."""
        nan = math.nan
        return cls(variant, version, n, estimate, "control", nan, (nan, nan), nan, (nan, nan),
                   nan, nan, nan, False, "control")  # fmt: skip


class MetricResult(msgspec.Struct, frozen=True):
    name: str
    role: Role
    kind: str
    direction: str
    variants: list[Comparison]
    verdict: str
    breached: bool = False  # guardrails: harm significant and above guardrail_max_harm


class SrmView(msgspec.Struct, frozen=True):
    status: str  # ok, mismatch or insufficient_data
    p_value: float
    observed: dict[str, int]
    expected: dict[str, float]


class ExperimentResults(msgspec.Struct, frozen=True):
    experiment: ExperimentSpec
    start: float | None
    end: float
    units: int
    srm: SrmView
    metrics: list[MetricResult]
    guardrails_hold: bool
    verdict: str
