"""Escalation policies: who is paged, in what order, until someone acknowledges.

Pure: the trigger, acknowledgement and resolution times are passed in. Steps run in order;
a step's ``delay_minutes`` counts from the start of the step before it (the first step's from
the trigger). When the policy repeats, the first step runs again ``repeat_delay_minutes``
after the start of the last step, ``repeat`` more times. A ``schedule:<name>`` target pages
whoever is on call at the moment of the page, not at the trigger.

>>> from mlpulse.domain.schedules import Layer, Rotation, Schedule
>>> from datetime import UTC, date, datetime
>>> day = Schedule("day", "UTC", (Layer(("ana",), Rotation.parse("daily"), date(2026, 1, 1)),))
>>> policy = EscalationPolicy("critical", (
...     EscalationStep(0, (Target.parse("schedule:day"),)),
...     EscalationStep(10, (Target.parse("channel:ml-team"),))))
>>> t0 = datetime(2026, 2, 1, tzinfo=UTC)
>>> for page in escalation_plan(policy, {"day": day}, triggered_at=t0):
...     print(f"{page.at:%H:%M}", page.step_index, page.users, page.channels)
00:00 0 ('ana',) ()
00:10 1 () ('ml-team',)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, cast

from mlpulse.domain.schedules import Schedule, as_utc
from mlpulse.errors import InvalidInputError

__all__ = ["EscalationPolicy", "EscalationStep", "Page", "Target", "due_pages", "escalation_plan"]

TargetKind = Literal["schedule", "user", "channel"]
_KINDS: tuple[TargetKind, ...] = ("schedule", "user", "channel")


def _invalid(name: str, problem: str) -> InvalidInputError:
    return InvalidInputError(f"{name}: {problem}", field=name)


@dataclass(frozen=True, slots=True)
class Target:
    """Whom a step pages: the on-call of a schedule, a user, or a channel receiver.

    >>> Target.parse("schedule:primary"), str(Target("channel", "ml-team"))
    (Target(kind='schedule', name='primary'), 'channel:ml-team')
    """

    kind: TargetKind
    name: str

    def __post_init__(self) -> None:
        if self.kind not in _KINDS or not isinstance(self.name, str) or not self.name.strip():
            raise _invalid(
                "target", f"must be schedule:<name>, user:<name> or channel:<receiver>; got {self}"
            )

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    @classmethod
    def parse(cls, text: object) -> Target:
        """``<kind>:<name>``, as written in mlpulse.yaml."""
        kind, colon, name = str(text).partition(":")
        if not colon or kind.strip() not in _KINDS:
            raise _invalid(
                "target",
                f"must be schedule:<name>, user:<name> or channel:<receiver>; got {text!r}",
            )
        return cls(cast(TargetKind, kind.strip()), name.strip())


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """Page ``targets`` ``delay_minutes`` after the start of the previous step."""

    delay_minutes: int
    targets: tuple[Target, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))
        if isinstance(self.delay_minutes, bool) or not isinstance(self.delay_minutes, int):
            raise _invalid("delay_minutes", f"must be a whole number; got {self.delay_minutes!r}")
        if self.delay_minutes < 0:
            raise _invalid("delay_minutes", f"must be 0 or more; got {self.delay_minutes}")
        if not self.targets:
            raise _invalid("targets", "must name at least one target")


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """``steps`` in order, run ``repeat`` more times, each ``repeat_delay_minutes`` apart.

    The default gap between cycles, 30 minutes, is PagerDuty's default escalation delay.
    """

    name: str
    steps: tuple[EscalationStep, ...]
    repeat: int = 0
    repeat_delay_minutes: int = 30

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps:
            raise _invalid("steps", "must have at least one step")
        for name in ("repeat", "repeat_delay_minutes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _invalid(name, f"must be a whole number, 0 or more; got {value!r}")
        # 0 is a chain that starts over as soon as its last step has paged (step delays
        # space the cycles). Only a cycle of no time at all is refused: every repeat
        # would page at the same instant, a burst rather than a reminder.
        cycle = self.repeat_delay_minutes + sum(s.delay_minutes for s in self.steps[1:])
        if self.repeat and cycle == 0:
            raise _invalid(
                "repeat_delay_minutes",
                "must be above 0 when the policy repeats and its steps have no delays "
                "(each repeat would page at the same moment)",
            )

    def schedule_names(self) -> list[tuple[str, str]]:
        """``(field, schedule name)`` for every ``schedule:`` target, in order."""
        return [
            (f"steps[{i}].targets[{j}]", target.name)
            for i, step in enumerate(self.steps)
            for j, target in enumerate(step.targets)
            if target.kind == "schedule"
        ]


@dataclass(frozen=True, slots=True)
class Page:
    """One step of one cycle (``repeat`` 0 is the first), with its targets resolved.

    ``users`` holds each user once, in target order; ``unstaffed`` names the schedules that
    had nobody on call at ``at``, so a gap in a schedule is reported rather than silent.
    """

    at: datetime
    step_index: int
    repeat: int
    users: tuple[str, ...]
    channels: tuple[str, ...]
    unstaffed: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[int, int]:
        """``(step_index, repeat)``: what ``already_sent`` holds."""
        return (self.step_index, self.repeat)


def escalation_plan(
    policy: EscalationPolicy, schedules: Mapping[str, Schedule], *, triggered_at: datetime | float
) -> list[Page]:
    """Every page the policy would send if nobody acknowledged, in time order."""
    for name, schedule_name in policy.schedule_names():
        if schedule_name not in schedules:
            raise _invalid(name, f"unknown schedule {schedule_name!r}")
    at, pages = as_utc(triggered_at, name="triggered_at"), []
    for repeat in range(policy.repeat + 1):
        for index, step in enumerate(policy.steps):
            first_again = index == 0 and repeat > 0
            at += timedelta(
                minutes=policy.repeat_delay_minutes if first_again else step.delay_minutes
            )
            pages.append(_page(step, index, repeat, at, schedules))
    return pages


def due_pages(
    policy: EscalationPolicy,
    schedules: Mapping[str, Schedule],
    *,
    triggered_at: datetime | float,
    now: datetime | float,
    acknowledged_at: datetime | float | None = None,
    resolved_at: datetime | float | None = None,
    already_sent: Collection[tuple[int, int]] = frozenset(),
) -> list[Page]:
    """The pages to send at ``now``: due, not yet sent, and before any ack or resolve.

    A page due at the very moment of the acknowledgement (or resolution) is not sent: the
    person has already answered. ``already_sent`` holds :attr:`Page.key` values, so a page
    missed by a late tick is still sent on the next one.
    """
    moment = as_utc(now, name="now")
    stops = [as_utc(t, name="stop") for t in (acknowledged_at, resolved_at) if t is not None]
    stop = min(stops, default=None)
    return [
        page
        for page in escalation_plan(policy, schedules, triggered_at=triggered_at)
        if page.at <= moment and page.key not in already_sent and (stop is None or page.at < stop)
    ]


def _page(
    step: EscalationStep, index: int, repeat: int, at: datetime, schedules: Mapping[str, Schedule]
) -> Page:
    users: dict[str, None] = {}  # a dict keeps the first-seen order and drops repeats
    channels: dict[str, None] = {}
    unstaffed: list[str] = []
    for target in step.targets:
        if target.kind == "channel":
            channels[target.name] = None
        elif target.kind == "user":
            users[target.name] = None
        elif (user := schedules[target.name].on_call(at)) is not None:
            users[user] = None
        else:
            unstaffed.append(target.name)
    return Page(at, index, repeat, tuple(users), tuple(channels), tuple(unstaffed))
