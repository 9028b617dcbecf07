"""Error budget policy: freeze a model's rollouts while an SLO's budget is spent.

An SLO with ``policy: {freeze_rollouts: true}`` (:class:`~mlpulse.domain.slos.SloPolicy`)
freezes its model while its newest ``mlpulse_slo_error_budget_remaining`` point (the
SLO's own series, without a ``version`` label, written by
:class:`~mlpulse.services.slos.SloService` each tick) is at most 0. Frozen, the model
takes no change that moves traffic onto a new version: :meth:`BudgetPolicy.check` raises
:class:`BudgetSpentError` (a conflict: HTTP 409) naming the SLO. The registry calls it
before a promotion or a weight increase of a version that is not the champion (rollout
steps, bandits and routing changes go through the registry), the experiments before a
start. Rollbacks and retirements never ask: moving traffic back is always allowed.

Choices a reviewer should know:

- The budget is read, not computed: the guard costs one indexed query per SLO of the
  model, and it agrees with what ``GET /v1/slos`` and the dashboard showed at the last
  tick. A point older than ``max_age_s`` (default 1 hour: the SLO tick stopped) does
  not freeze, and neither does no point at all (an SLO not yet evaluated): the policy
  acts on a measured spent budget only.
- An SLO of one ``version`` freezes the whole model too: its budget is the model's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from mlpulse.domain.monitoring import Config
from mlpulse.errors import ConflictError
from mlpulse.ports import Clock, SeriesStore
from mlpulse.services.slos import BUDGET_SERIES

__all__ = ["BudgetFreeze", "BudgetPolicy", "BudgetSpentError"]

DEFAULT_MAX_AGE_S = 3600.0


class BudgetSpentError(ConflictError):
    """A change refused because an SLO of the model with a freezing policy is spent."""

    def __init__(self, message: str, *, slos: tuple[str, ...]) -> None:
        super().__init__(message, field="model")
        self.slos = slos


@dataclass(frozen=True, slots=True)
class BudgetFreeze:
    """One SLO whose spent budget freezes ``model``: its budget as of ``at``."""

    slo: str
    model: str
    remaining: float
    at: float


class BudgetPolicy:
    """Answers whether the SLOs of ``config()`` freeze a model, from ``series``."""

    def __init__(
        self,
        series: SeriesStore,
        clock: Clock,
        config: Callable[[], Config | None],
        *,
        max_age_s: float = DEFAULT_MAX_AGE_S,
    ) -> None:
        self._series = series
        self._clock = clock
        self._config = config
        self._max_age_s = max_age_s

    def freezes(self, model: str) -> list[BudgetFreeze]:
        """Every SLO of ``model`` with ``freeze_rollouts`` whose budget is spent now."""
        config = self._config()
        if config is None:
            return []
        now = self._clock.now()
        found = []
        for name, slo in sorted(config.slos.items()):
            if slo.model != model or not slo.freezes_rollouts:
                continue
            points = self._series.query_points(
                BUDGET_SERIES,
                matchers={"model": model, "slo": name},
                start=now - self._max_age_s,
                end=now,
            )
            own = [p for p in points if "version" not in p.labels and not math.isnan(p.value)]
            if own and own[-1].value <= 0.0:
                found.append(BudgetFreeze(name, model, own[-1].value, own[-1].ts))
        return found

    def check(self, model: str, action: str) -> None:
        """Raise :class:`BudgetSpentError` when ``action`` on ``model`` is frozen."""
        frozen = self.freezes(model)
        if not frozen:
            return
        spent = ", ".join(f"{f.slo!r} ({f.remaining:.1%} of its error budget left)" for f in frozen)
        raise BudgetSpentError(
            f"model: {action} of {model!r} refused: the error budget of SLO {spent} is "
            "spent and its policy freezes rollouts; rollbacks are still allowed",
            slos=tuple(f.slo for f in frozen),
        )
