"""The experiment page's charts: each variant's estimate with its interval, and the
primary metric's interval (the sequential boundaries, for ``sequential``) over time.

Results over time are the service's own analysis re-run as if the experiment had
stopped at each checkpoint: an :class:`Experiments` over a read-only store that holds
just that view of the spec, and the same outcome source.
"""

from __future__ import annotations

import builtins
import math
from typing import Any, Final

import msgspec

from mlpulse.domain.experiments import ExperimentResults, ExperimentSpec
from mlpulse.errors import InvalidInputError
from mlpulse.ports import Clock, OutcomeSource
from mlpulse.server.dashboard.chart_data import Line, interval_chart, line_chart
from mlpulse.services.experiments import Experiments

CHECKPOINTS: Final = 12


class _Frozen:
    """An experiment store holding one spec, which nobody may change."""

    def __init__(self, spec: ExperimentSpec) -> None:
        self._spec = spec

    def insert(self, spec: ExperimentSpec) -> None:
        raise InvalidInputError("read-only view of an experiment")

    def update(self, spec: ExperimentSpec) -> None:
        raise InvalidInputError("read-only view of an experiment")

    def get(self, name: str) -> ExperimentSpec | None:
        return self._spec if name == self._spec.name else None

    def list(self) -> builtins.list[ExperimentSpec]:
        return [self._spec]


def estimates_chart(results: ExperimentResults) -> dict[str, Any]:
    """Each metric's relative difference to control per variant, with its interval."""
    categories: list[str] = []
    rows: list[tuple[float, float, float]] = []
    for metric in results.metrics:
        for c in metric.variants:
            if c.variant == results.experiment.control:
                continue
            categories.append(f"{metric.name} ({metric.role}): {c.variant}")
            rows.append((c.relative, c.relative_ci[0], c.relative_ci[1]))
    return interval_chart(categories, {"relative difference to control": rows})


def results_at(
    spec: ExperimentSpec, end: float, outcomes: OutcomeSource, clock: Clock
) -> ExperimentResults:
    """The results as they stood at ``end``."""
    view = msgspec.structs.replace(spec, stopped_at=end)
    return Experiments(_Frozen(view), outcomes, clock).results(spec.name)


def sequential_chart(spec: ExperimentSpec, outcomes: OutcomeSource, clock: Clock) -> dict[str, Any]:
    """The primary metric's difference to control and its interval at checkpoints."""
    if spec.started_at is None:
        return line_chart({}, unit="difference")
    end = spec.stopped_at if spec.stopped_at is not None else clock.now()
    lines: dict[str, Line] = {}
    for i in range(1, CHECKPOINTS + 1):
        at = spec.started_at + (end - spec.started_at) * i / CHECKPOINTS
        primary = results_at(spec, at, outcomes, clock).metrics[0]
        for c in primary.variants:
            if c.variant == spec.control or not math.isfinite(c.difference):
                continue
            lines.setdefault(f"{c.variant} difference", []).append((at, c.difference))
            lines.setdefault(f"{c.variant} lower bound", []).append((at, c.ci[0]))
            lines.setdefault(f"{c.variant} upper bound", []).append((at, c.ci[1]))
    chart = line_chart(lines, unit=f"{spec.primary.name}: difference to control", scale=True)
    chart["zero_line"] = True
    return chart
