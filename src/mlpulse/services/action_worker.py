"""Runbook actions off the alert tick: a queue, one worker thread, a bound on every call.

The alert engine decides alerts and queues their pages under its lock; an action (a
webhook with a 10 s timeout, an MLflow client that retries for minutes) must never hold
that lock, or every page and every acknowledgement waits for it. The incident service
therefore hands each action to :class:`ActionWorker`, which runs the jobs in order on its
own thread. Each call an action makes outside goes through :func:`bounded`: it runs on a
helper thread that is waited for at most ``timeout_s``; past that the action is reported
``failed`` ("timed out"). Python cannot stop a thread, so a hung call is left to finish
(or not) on its daemon thread, and what it did then is logged, not recorded twice.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Final

log = logging.getLogger("mlpulse.actions")

ACTION_TIMEOUT_S: Final = 30.0


def bounded(call: Callable[[], tuple[str, str]], timeout_s: float) -> tuple[str, str]:
    """``call()``'s ``(status, detail)``, or ``("failed", "timed out ...")`` after ``timeout_s``.

    >>> bounded(lambda: ("ok", "done"), 1.0)
    ('ok', 'done')
    """
    result: list[tuple[str, str]] = []

    def target() -> None:
        try:
            result.append(call())
        except Exception as exc:  # the outcome of the action, as RunbookActions reports it
            result.append(("failed", f"{type(exc).__name__}: {exc}"))
        if late.is_set():
            log.warning("an action that timed out finished later: %s", result[-1])

    late = threading.Event()
    helper = threading.Thread(target=target, name="mlpulse-action-call", daemon=True)
    helper.start()
    helper.join(timeout_s)
    if helper.is_alive():
        late.set()
        return "failed", (
            f"timed out after {timeout_s:g} s (the call may still complete; check the target)"
        )
    return result[0]


class ActionWorker:
    """Runs submitted jobs one at a time, in order, on one thread."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread = threading.Thread(target=self._run, name="mlpulse-actions", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        with self._idle:
            self._pending += 1
        self._jobs.put(job)

    def wait_idle(self, timeout_s: float) -> bool:
        """Whether every submitted job finished within ``timeout_s`` (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout_s)

    def close(self, timeout_s: float = 5.0) -> None:
        self._jobs.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # a loop boundary: one job must not stop the next
                log.exception("runbook action job failed")
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
