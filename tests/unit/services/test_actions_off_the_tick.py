"""Actions never delay pages: the real alert engine, a runbook whose target hangs.

The engine's tick decides the alert and queues its page; the runbook's webhook runs on
the action worker, outside the engine's lock, so the page is queued and acknowledgements
answer while the orchestrator still holds the request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.domain.incidents import ActionConfig, ConfirmConfig, RunbookConfig
from mlpulse.domain.monitoring import Config
from mlpulse.domain.rules import ReceiverConfig, RouteConfig, RuleConfig
from mlpulse.domain.series import MetricPoint
from mlpulse.services.action_worker import ActionWorker, bounded
from mlpulse.services.alert_engine import AlertEngine
from mlpulse.services.incidents import IncidentService
from mlpulse.services.runbook_actions import RunbookActions
from mlpulse.testing.fakes import InMemorySeriesStore

T0 = 1_767_225_600.0


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


@dataclass
class HangingPoster:
    """An orchestrator that accepts the connection and never answers (until released)."""

    called: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    bodies: list[Mapping[str, Any]] = field(default_factory=list)

    def post(self, url: str, body: Mapping[str, Any]) -> tuple[int | None, str]:
        self.bodies.append(body)
        self.called.set()
        self.release.wait(30.0)
        return 200, "started"


CONFIG = Config(
    version=1,
    rules={"errors": RuleConfig(kind="threshold", series="mlpulse_error_rate", op=">",
                                value=0.1, severity="critical")},
    receivers={"pager": ReceiverConfig(kind="webhook", settings={"url": "http://pager"})},
    route=RouteConfig(receiver="pager", group_wait="0s"),
    runbooks={"retrain": RunbookConfig(
        match={"alertname": "errors"}, confirm=ConfirmConfig(failures=1),
        actions=[ActionConfig(kind="webhook", url="http://orchestrator/hooks/retrain")])},
)  # fmt: skip


@dataclass
class World:
    clock: Clock
    store: SQLiteAlertStore
    engine: AlertEngine
    incidents: IncidentService
    poster: HangingPoster
    worker: ActionWorker


def _world(tmp_path: Path, *, timeout_s: float) -> World:
    clock, series, poster = Clock(), InMemorySeriesStore(), HangingPoster()
    store = SQLiteAlertStore(tmp_path / "alerts.sqlite")
    worker = ActionWorker()
    worker.start()
    incidents = IncidentService(
        store, clock, lambda: CONFIG,
        RunbookActions(routing=None, poster=poster, enqueue=None),
        run_later=worker.submit, action_timeout_s=timeout_s,
    )  # fmt: skip
    engine = AlertEngine(series=series, store=store, clock=clock, config=lambda: CONFIG,
                         on_alerts=incidents.on_alerts)  # fmt: skip
    labels = {"model": "recs", "version": "v3"}
    series.append_points([MetricPoint(T0, "mlpulse_error_rate", labels, 0.4)])
    return World(clock, store, engine, incidents, poster, worker)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = _world(tmp_path, timeout_s=30.0)
    yield w
    w.poster.release.set()
    w.worker.close()
    w.store.close()


def test_a_hanging_action_target_does_not_delay_the_page_or_block_acknowledgement(
    world: World,
) -> None:
    started = time.perf_counter()
    world.engine.tick()
    paged = time.perf_counter() - started

    (page,) = world.store.outbox()
    assert page.notification.receiver == "pager" and page.status == "pending"
    assert paged < 2.0, f"the page waited {paged:.2f} s for the runbook"
    assert world.poster.called.wait(2.0)  # the webhook is in flight, hanging

    (alert,) = world.engine.alerts(state="firing")
    started = time.perf_counter()
    assert world.engine.acknowledge(alert.fingerprint, by="ana").acknowledged_by == "ana"
    (incident,) = world.incidents.incidents()
    assert world.incidents.acknowledge(incident.id, by="ana").status == "acknowledged"
    world.engine.tick()  # the next tick is not held either
    assert time.perf_counter() - started < 2.0
    assert world.store.actions() == []  # the outcome is not known yet

    world.poster.release.set()
    assert world.worker.wait_idle(5.0)
    (outcome,) = world.store.actions()
    assert (
        outcome.status == "ok" and "POST http://orchestrator/hooks/retrain: 200" in outcome.detail
    )


def test_an_action_past_its_timeout_is_recorded_as_failed(tmp_path: Path) -> None:
    w = _world(tmp_path, timeout_s=0.2)
    try:
        w.engine.tick()
        assert w.worker.wait_idle(5.0)
        (outcome,) = w.store.actions()
        assert outcome.status == "failed" and outcome.detail.startswith("timed out after 0.2 s")
        (incident,) = w.incidents.incidents()
        assert incident.timeline[-1].data["detail"] == outcome.detail
    finally:
        w.poster.release.set()
        w.worker.close()
        w.store.close()


def test_bounded_reports_an_exception_as_a_failed_outcome() -> None:
    def broken() -> tuple[str, str]:
        raise RuntimeError("registry unreachable")

    assert bounded(broken, 1.0) == ("failed", "RuntimeError: registry unreachable")


def test_action_worker_runs_the_next_job_after_one_that_raises() -> None:
    worker = ActionWorker()
    worker.start()
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    worker.submit(broken)
    worker.submit(lambda: ran.append("second"))
    try:
        assert worker.wait_idle(5.0) and ran == ["second"]
    finally:
        worker.close()
