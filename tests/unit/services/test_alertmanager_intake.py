"""The Alertmanager intake's bounds, on a fake clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from mlpulse.errors import InvalidInputError, PayloadTooLargeError, RateLimitedError
from mlpulse.services.alertmanager import MAX_AGE_S, AlertmanagerIntake

T0 = 1_796_601_600.0  # 2026-12-07T00:00:00Z


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


def _payload(n: int, starts_at: str = "2026-12-06T23:00:00Z") -> dict[str, Any]:
    return {"alerts": [{"status": "firing", "labels": {"alertname": "Down", "i": str(i)},
                        "startsAt": starts_at} for i in range(n)]}  # fmt: skip


def test_alertmanager_intake_takes_at_most_its_per_minute_bound_then_again_a_minute_later() -> None:
    clock = Clock()
    intake = AlertmanagerIntake(clock, max_per_request=10, max_per_minute=25)
    for _ in range(2):
        assert len(intake.accept(_payload(10))) == 10
        clock.t += 20
    with pytest.raises(RateLimitedError, match="at most 25 alerts per minute"):
        intake.accept(_payload(10))
    assert len(intake.accept(_payload(5))) == 5  # what is left of the minute
    clock.t += 41  # the first request is more than a minute old
    assert len(intake.accept(_payload(10))) == 10
    with pytest.raises(PayloadTooLargeError, match="at most 10 alerts per request; got 11"):
        intake.accept(_payload(11))


def test_alertmanager_intake_clamps_an_old_start_and_refuses_one_in_the_future() -> None:
    intake = AlertmanagerIntake(Clock())
    (old,) = intake.accept(_payload(1, "2025-01-01T00:00:00Z"))
    assert old.starts_at == T0 - MAX_AGE_S
    (skewed,) = intake.accept(_payload(1, "2026-12-07T00:04:00Z"))  # a clock 4 minutes ahead
    assert skewed.starts_at == T0  # within the skew: read as now
    with pytest.raises(InvalidInputError) as info:
        intake.accept(_payload(1, "2026-12-07T01:00:00Z"))
    assert info.value.field == "alerts[0].startsAt"
