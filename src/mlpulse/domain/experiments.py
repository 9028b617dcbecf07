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

A metric with ``source="labels"`` is read from the model's labels instead (accuracy,
absolute error): see :class:`MetricSpec`.

A variant's units are those with any outcome named by the experiment's metrics or by
``exposure`` (an outcome serving code logs when the unit is exposed, so that units that
never convert count too), or with a labelled prediction of a ``labels`` metric.

``method="group_sequential"`` plans ``looks`` analyses over ``planned_units`` units
(all variants together) with Lan–DeMets alpha spending (``spending``); see
:mod:`mlpulse.services.experiment_analysis`.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from mlpulse.domain.registry import Name
from mlpulse.errors import InvalidInputError

Unit = Literal["user", "session", "request"]
Method = Literal["fixed", "sequential", "group_sequential", "bayesian"]
Spending = Literal["obrien_fleming", "pocock"]
ExperimentState = Literal["draft", "running", "stopped"]
Role = Literal["primary", "secondary", "guardrail"]


def _invalid(field: str, problem: str) -> InvalidInputError:
    return InvalidInputError(f"{field}: {problem}", field=field)


class MetricSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One metric, aggregated per unit: outcome events named ``name``, or labels.

    ``source="outcomes"`` (the default): the outcome events named ``name``, as the module
    docstring says; ``per_unit`` defaults to ``"sum"``.

    ``source="labels"``: the model's predictions judged against their labels, e.g.
    ``{"name": "accuracy", "source": "labels", "kind": "proportion"}``; ``name`` only
    names the metric (no outcome event is read under it).

    - *Labelled prediction*: a prediction of the model with ``ts`` in the experiment's
      window, a non-null ``prediction`` and a label: the latest label of its
      ``request_id``, as the performance monitors join them.
    - *Its unit*: the ``unit_id`` of the model's outcome events with the same
      ``request_id`` (the ``exposure`` event, logged with both ids, is the natural
      carrier). Predictions carry no unit id; a request linked to two different unit
      ids is left out rather than guessed.
    - *Its version*: only predictions by the version of the unit's assigned variant
      count, so a shadow version answering the same request is not mixed in.
    - *Its value*: ``kind="proportion"``: 1 when the prediction equals the label
      (numbers compare as numbers, other values as their JSON), else 0;
      ``kind="mean"``: the absolute error ``|prediction - label|`` (numeric
      predictions and labels only; others are left out).
    - *Per unit*: the mean over the unit's labelled predictions (its accuracy or mean
      absolute error; ``per_unit`` must be ``"mean"``, its default here), and the
      variant's estimate is the mean of that over its units with a labelled
      prediction. It is analysed as a mean (Welch, mSPRT or normal Bayesian), not as a
      proportion: a unit's share of correct predictions is not one Bernoulli draw.

    ``guardrail_max_harm`` (guardrails only): the relative harm tolerated, e.g. 0.1 for
    "at most 10% worse". A guardrail is breached when its harm is significant and larger
    than this (None: any significant harm).
    """

    name: Name
    kind: Literal["mean", "proportion"] = "proportion"
    direction: Literal["increase", "decrease"] = "increase"
    per_unit: Literal["sum", "mean"] | None = None  # None: "sum" for outcomes, "mean" for labels
    source: Literal["outcomes", "labels"] = "outcomes"
    guardrail_max_harm: float | None = None

    @property
    def aggregation(self) -> Literal["sum", "mean"]:
        """How a unit's values combine: ``per_unit``, or its default for ``source``."""
        if self.per_unit is not None:
            return self.per_unit
        return "mean" if self.source == "labels" else "sum"

    def validate(self, field: str) -> None:
        harm = self.guardrail_max_harm
        if harm is not None and not (math.isfinite(harm) and harm >= 0):
            raise _invalid(f"{field}.guardrail_max_harm", f"must be a float >= 0; got {harm!r}")
        if self.source == "labels" and self.per_unit == "sum":
            raise _invalid(
                f"{field}.per_unit",
                "must be 'mean' (or left out) for a metric with source 'labels': a unit's "
                "value is the mean over its labelled predictions; got 'sum'",
            )


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
    # method="group_sequential" only: the planned looks, the units (all variants) at the
    # last look, and the alpha-spending function (default "obrien_fleming").
    looks: int | None = None
    planned_units: int | None = None
    spending: Spending | None = None
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
        self._validate_plan()
        seen: set[str] = set()
        for field, metric in self.metrics_with_fields():
            metric.validate(field)
            if metric.name in seen:
                raise _invalid(f"{field}.name", f"metric {metric.name!r} is listed twice")
            seen.add(metric.name)

    def _validate_plan(self) -> None:
        plan = {"looks": self.looks, "planned_units": self.planned_units,
                "spending": self.spending}  # fmt: skip
        if self.method != "group_sequential":
            for field, value in plan.items():
                if value is not None:
                    raise _invalid(
                        field,
                        f"is used by method 'group_sequential' only; got {value!r} with "
                        f"method {self.method!r}",
                    )
            return
        for field, low, high in (("looks", 1, 50), ("planned_units", 2, None)):
            value = plan[field]
            ok = isinstance(value, int) and value >= low and (high is None or value <= high)
            if not ok:
                expected = f"an int in [{low}, {high}]" if high else f"an int >= {low}"
                raise _invalid(
                    field, f"method 'group_sequential' needs {field}: {expected}; got {value!r}"
                )

    @property
    def spending_function(self) -> Spending:
        """The alpha-spending function of a group-sequential plan."""
        return self.spending or "obrien_fleming"

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


class LookView(msgspec.Struct, frozen=True):
    """Where a group-sequential experiment stands: look ``look`` of ``looks`` (0 before
    the first), at ``information_fraction`` = units / ``planned_units``.

    ``boundary`` is the |z| a comparison must reach at this look (infinite when nothing
    is spent yet), ``alpha_spent`` the alpha each comparison has spent up to this look
    (the family of ``comparisons`` spends that many times it), and ``crossed`` whether a
    comparison of the primary metric crossed its boundary.
    """

    look: int
    looks: int
    units: int
    planned_units: int
    information_fraction: float
    spending: str
    comparisons: int
    boundary: float
    alpha_spent: float
    crossed: bool


class ExperimentResults(msgspec.Struct, frozen=True):
    experiment: ExperimentSpec
    start: float | None
    end: float
    units: int
    srm: SrmView
    metrics: list[MetricResult]
    guardrails_hold: bool
    verdict: str
    look: LookView | None = None  # method "group_sequential" only
