"""The background loop: one failing job (or evaluator tick) never stops the others."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from mlpulse.server.background import BackgroundLoop
from mlpulse.services.evaluator import TickReport


@dataclass
class Clock:
    t: float = 1_767_225_600.0

    def now(self) -> float:
        return self.t


@dataclass
class FakeEvaluator:
    fail: bool = False
    ticks: int = 0

    def tick(self) -> TickReport:
        self.ticks += 1
        if self.fail:
            raise RuntimeError("series store unavailable")
        return TickReport()


@dataclass
class FakeEvents:
    cutoffs: list[float] = field(default_factory=list)
    deleted: threading.Event = field(default_factory=threading.Event)

    def delete_events_before(self, cutoff: float) -> int:
        self.cutoffs.append(cutoff)
        self.deleted.set()
        return 0


def _loop(evaluator: FakeEvaluator, events: FakeEvents, ran: list[str]) -> BackgroundLoop:
    def broken_rollouts() -> None:
        raise ValueError("The 'max_harm' parameter of MetricObservation must be ...")

    return BackgroundLoop(
        evaluator, events, Clock(), interval_s=0.01, retention_s=86400.0,  # type: ignore[arg-type]
        jobs=[("rollouts", broken_rollouts), ("bandits", lambda: ran.append("bandits")),
              ("experiments", lambda: ran.append("experiments"))],
    )  # fmt: skip


def test_background_tick_runs_every_job_after_one_that_fails() -> None:
    ran: list[str] = []
    loop = _loop(FakeEvaluator(), FakeEvents(), ran)

    loop.tick()

    assert ran == ["bandits", "experiments"] and loop.failed_jobs == ["rollouts"]


def test_background_jobs_run_even_when_the_evaluator_tick_fails() -> None:
    ran: list[str] = []
    loop = _loop(FakeEvaluator(fail=True), FakeEvents(), ran)

    with pytest.raises(RuntimeError, match="series store unavailable"):
        loop.tick()  # on demand: the caller hears of the evaluator's failure

    assert ran == ["bandits", "experiments"]


def test_background_loop_keeps_retention_going_when_jobs_and_the_evaluator_fail() -> None:
    ran: list[Any] = []
    events = FakeEvents()
    evaluator = FakeEvaluator(fail=True)
    loop = _loop(evaluator, events, ran)
    loop.start()
    try:
        assert events.deleted.wait(5.0)
    finally:
        loop.close()
    assert evaluator.ticks >= 1 and "bandits" in ran
