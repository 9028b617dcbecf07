"""On-call schedules: who is on call when. Pure: no clock, time is always passed in.

A :class:`Schedule` stacks :class:`Layer` s (rotations), bottom first: where a higher (later)
layer has someone on call it wins, and an :class:`Override` wins over every layer; the
latest listed override wins among overrides (PagerDuty's "final schedule").

Hand-offs and restriction windows are local wall-clock times in the schedule's zone, so a
daily 09:00 Europe/Berlin rotation hands off at 09:00 on both sides of a daylight-saving
change and the shift across it lasts 23 (March) or 25 (October) hours. Rotations counted in
hours (``"12h"``) are elapsed time from the first hand-off instead, so they drift against the
wall clock across a change. A local time the change makes ambiguous or non-existent is read
with ``fold=0``: an ambiguous time (02:30 on the October night) is its *first* occurrence,
so the outgoing person is not kept on an extra hour; a skipped time (02:30 on the March
night) is read with the offset in force before the gap, which lands at 03:30, the instant
the clocks would have shown had they not jumped. Both rules are deterministic and keep
hand-offs strictly increasing. Restriction windows cut a layer's turns; the rotation keeps
turning through the time outside them. Instants in are aware datetimes or epoch seconds;
instants out are UTC, so ``+ timedelta`` on them is elapsed time, never wall-clock time.

>>> layer = Layer(("ana", "ben"), Rotation.parse("daily"), start=date(2026, 3, 27))
>>> berlin = Schedule("primary", "Europe/Berlin", (layer,))
>>> start, end = datetime(2026, 3, 28, 8, tzinfo=UTC), datetime(2026, 3, 30, 7, tzinfo=UTC)
>>> for shift in berlin.shifts(start, end):
...     local = shift.start.astimezone(berlin.zone)
...     print(shift.user, f"{local:%d %H:%M %Z}", shift.end - shift.start)
ben 28 09:00 CET 23:00:00
ana 29 09:00 CEST 1 day, 0:00:00
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mlpulse.errors import InvalidInputError, parameter_error

__all__ = ["Layer", "Override", "Restriction", "Rotation", "Schedule", "Shift", "as_utc"]

_TICK = timedelta(microseconds=1)
_Window = tuple[datetime, datetime]
_ROTATION = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")


def as_utc(value: datetime | float, *, name: str = "at") -> datetime:
    """``value`` (an aware datetime or epoch seconds) as a UTC datetime.

    >>> as_utc(0).isoformat()
    '1970-01-01T00:00:00+00:00'
    """
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise parameter_error(name, "schedules", "an aware datetime or epoch seconds", value)
        return value.astimezone(UTC)
    return datetime.fromtimestamp(value, tz=UTC)


def _wall(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant the clocks in ``zone`` show ``day`` ``at`` (``fold=0``, module docs)."""
    return datetime.combine(day, at.replace(fold=0, tzinfo=None), tzinfo=zone).astimezone(UTC)


def _invalid(name: str, problem: str) -> InvalidInputError:
    return InvalidInputError(f"{name}: {problem}", field=name)


def _zone(name: object) -> ZoneInfo:
    try:
        return ZoneInfo(name)  # type: ignore[arg-type]  # a non-str fails and is reported below
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        message = f"unknown time zone {name!r}; use an IANA name like Europe/Berlin"
        raise _invalid("time_zone", message) from None


@dataclass(frozen=True, slots=True)
class Shift:
    """``user`` is on call from ``start`` (inclusive) to ``end`` (exclusive), both UTC."""

    user: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Rotation:
    """How long each turn lasts: ``length`` calendar days, or ``length`` elapsed hours.

    >>> Rotation.parse("weekly"), Rotation.parse("12h")
    (Rotation(length=7, unit='days'), Rotation(length=12, unit='hours'))
    """

    length: int
    unit: Literal["days", "hours"]

    def __post_init__(self) -> None:
        if self.length < 1 or self.unit not in ("days", "hours"):
            raise _invalid("rotation", f"must be a whole number (>= 1) of days or hours; got "
                           f"{self.length} {self.unit}")  # fmt: skip

    @classmethod
    def parse(cls, text: object) -> Rotation:
        """``daily``, ``weekly``, or ``<n>h`` / ``<n>d`` / ``<n>w``."""
        named = {"daily": "1d", "weekly": "1w"}.get(str(text).strip().lower(), str(text))
        match = _ROTATION.match(named)
        if match is None or int(match.group(1)) < 1:
            raise _invalid("rotation", f"must be daily, weekly, or like 12h, 3d, 2w; got {text!r}")
        length, unit = int(match.group(1)), match.group(2)
        return cls(length * (7 if unit == "w" else 1), "hours" if unit == "h" else "days")


@dataclass(frozen=True, slots=True)
class Restriction:
    """A window the layer is on call in: from ``start`` to ``end`` local on each of ``days``.

    ``days`` are weekdays, 0 = Monday. An ``end`` at or before ``start`` runs past midnight.
    """

    start: time
    end: time
    days: tuple[int, ...] = tuple(range(7))

    def __post_init__(self) -> None:
        if not self.days or any(d not in range(7) for d in self.days):
            raise _invalid("days", f"must be weekdays 0 (Monday) to 6; got {self.days!r}")

    def windows(self, day: date, zone: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
        """The window that opens on local ``day``, if ``day`` is one of ``days``."""
        if day.weekday() in self.days:
            end_day = day + timedelta(days=1) if self.end <= self.start else day
            yield _wall(day, self.start, zone), _wall(end_day, self.end, zone)


@dataclass(frozen=True, slots=True)
class Layer:
    """``users`` take turns of ``rotation``, the first from ``handoff`` local on ``start``."""

    users: tuple[str, ...]
    rotation: Rotation
    start: date
    handoff: time = time(9)
    restrictions: tuple[Restriction, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "users", tuple(self.users))
        object.__setattr__(self, "restrictions", tuple(self.restrictions))
        if not self.users or not all(isinstance(u, str) and u for u in self.users):
            raise _invalid("users", f"must be a non-empty list of user names; got {self.users!r}")

    def handoff_at(self, turn: int, zone: ZoneInfo) -> datetime:
        """The instant turn number ``turn`` (0 = the first) begins."""
        if self.rotation.unit == "hours":
            return _wall(self.start, self.handoff, zone) + turn * timedelta(
                hours=self.rotation.length
            )
        return _wall(self.start + timedelta(days=turn * self.rotation.length), self.handoff, zone)

    def turn_at(self, at: datetime, zone: ZoneInfo) -> int:
        """The turn running at ``at``; -1 before the first hand-off."""
        first = self.handoff_at(0, zone)
        if at < first:
            return -1
        if self.rotation.unit == "hours":
            turn = (at - first) // timedelta(hours=self.rotation.length)
        else:  # a first guess from the local date, corrected against the real hand-offs
            turn = (at.astimezone(zone).date() - self.start).days // self.rotation.length
        while turn > 0 and self.handoff_at(turn, zone) > at:
            turn -= 1
        while self.handoff_at(turn + 1, zone) <= at:
            turn += 1
        return turn

    def shifts(self, start: datetime, end: datetime, zone: ZoneInfo) -> list[Shift]:
        """This layer alone over ``[start, end)``: turns cut to its restriction windows."""
        turns: list[Shift] = []
        turn = max(self.turn_at(start, zone), 0)
        while (begin := self.handoff_at(turn, zone)) < end:
            user = self.users[turn % len(self.users)]
            turns.append(Shift(user, max(begin, start), min(self.handoff_at(turn + 1, zone), end)))
            turn += 1
        if not self.restrictions:
            return turns
        windows = self._windows(start, end, zone)
        return [
            Shift(s.user, max(s.start, ws), min(s.end, we))
            for s in turns
            for ws, we in windows
            if ws < s.end and s.start < we
        ]

    def _windows(self, start: datetime, end: datetime, zone: ZoneInfo) -> list[_Window]:
        first, last = start.astimezone(zone).date() - timedelta(days=1), end.astimezone(zone).date()
        days = (first + timedelta(days=n) for n in range((last - first).days + 1))
        found = sorted(w for day in days for r in self.restrictions for w in r.windows(day, zone))
        merged: list[_Window] = []
        for ws, we in found:
            if we <= start or ws >= end:
                continue
            if merged and ws <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], we))
            else:
                merged.append((ws, we))
        return merged


@dataclass(frozen=True, slots=True)
class Override:
    """``user`` is on call from ``start`` to ``end`` whatever the layers say."""

    user: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.user, str) or not self.user:
            raise _invalid("user", f"must be a user name; got {self.user!r}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise _invalid(name, f"must be a date-time with a UTC offset; got {value!r}")
            object.__setattr__(self, name, value.astimezone(UTC))
        if self.end <= self.start:
            raise _invalid("end", f"must be after start ({self.start.isoformat()}); "
                           f"got {self.end.isoformat()}")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Schedule:
    """Layers (bottom first) and overrides in the IANA time zone ``time_zone``."""

    name: str
    time_zone: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        object.__setattr__(self, "zone", _zone(self.time_zone))
        if not self.layers:
            raise _invalid("layers", "must have at least one layer")

    def on_call(self, at: datetime | float) -> str | None:
        """Who is on call at ``at``; ``None`` when nobody is.

        >>> layer = Layer(("ana", "ben"), Rotation.parse("daily"), start=date(2026, 1, 1))
        >>> Schedule("p", "UTC", (layer,)).on_call(datetime(2026, 1, 2, 8, 59, tzinfo=UTC))
        'ana'
        """
        instant = as_utc(at)
        for override in reversed(self.overrides):
            if override.start <= instant < override.end:
                return override.user
        for layer in reversed(self.layers):
            shifts = layer.shifts(instant, instant + _TICK, self.zone)
            if shifts:
                return shifts[0].user
        return None

    def shifts(self, start: datetime | float, end: datetime | float) -> list[Shift]:
        """The final schedule over ``[start, end)``, consecutive shifts of a user merged."""
        lo, hi = as_utc(start, name="start"), as_utc(end, name="end")
        if hi < lo:
            raise parameter_error("end", "Schedule.shifts", f"at or after start ({lo})", hi)
        layers = [layer.shifts(lo, hi, self.zone) for layer in self.layers]
        overrides = [Shift(o.user, max(o.start, lo), min(o.end, hi)) for o in self.overrides]
        cuts = {lo, hi} | {t for shifts in [*layers, overrides] for s in shifts
                           for t in (s.start, s.end)}  # fmt: skip
        points = sorted(cuts)
        result: list[Shift] = []
        for a, b in itertools.pairwise(points):
            user = next((o.user for o in reversed(overrides) if o.start <= a < o.end), None)
            user = user or next(filter(None, (_user_at(s, a) for s in reversed(layers))), None)
            if user is None:
                continue
            if result and result[-1].user == user and result[-1].end == a:
                result[-1] = Shift(user, result[-1].start, b)
            else:
                result.append(Shift(user, a, b))
        return result


def _user_at(shifts: list[Shift], at: datetime) -> str | None:
    """The user of the sorted, disjoint ``shifts`` that contains ``at``."""
    i = bisect.bisect_right(shifts, at, key=lambda s: s.start) - 1
    return shifts[i].user if i >= 0 and at < shifts[i].end else None
