"""Schedules and escalation policies read from plain data (the mlpulse.yaml sections).

Every problem is collected with its dotted path and raised as one
:class:`~mlpulse.errors.InvalidInputError` (``field`` = the first path)::

    schedules:
      primary:
        time_zone: Europe/Berlin
        layers:                      # bottom first; a later layer wins where it has someone
          - users: [ana, ben]
            rotation: daily          # daily, weekly, 12h (elapsed hours), 3d, 2w
            start: 2026-01-05        # date of the first hand-off
            handoff: "09:00"         # local; quote it, YAML 1.1 reads 9:00 as a number
          - users: [cem]
            rotation: weekly
            start: 2026-01-05
            restrictions: [{days: mon-fri, start: "09:00", end: "17:00"}]
        overrides:
          - {user: dan, start: 2026-01-07T12:00:00+01:00, end: 2026-01-07T18:00:00+01:00}
    escalation_policies:
      critical:
        steps:
          - {delay_minutes: 0, targets: [schedule:primary]}
          - {delay_minutes: 10, targets: [schedule:secondary, user:eve]}
          - {delay_minutes: 10, targets: [channel:ml-team]}
        repeat: 2                    # run the steps twice more
        repeat_delay_minutes: 30     # from the last step to the first step again
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mlpulse.domain.escalation import EscalationPolicy, EscalationStep, Target
from mlpulse.domain.schedules import Layer, Override, Restriction, Rotation, Schedule
from mlpulse.errors import ConfigProblem, InvalidInputError

__all__ = ["ConfigProblems", "policies_from_config", "schedules_from_config"]

_T = TypeVar("_T")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PROBE_STEP = EscalationStep(0, (Target("user", "probe"),))  # stands in for a step with problems


def _invalid(name: str, problem: str) -> InvalidInputError:
    return InvalidInputError(f"{name}: {problem}", field=name)


class ConfigProblems:
    """Problems met while reading a config section; raised together as one error.

    >>> problems = ConfigProblems()
    >>> problems.attempt("schedules.p.layers[0]", lambda: Rotation.parse("often")) is None
    True
    >>> problems.add("schedules.p.time_zone", "required")
    >>> problems.raise_if_any()
    Traceback (most recent call last):
    ...
    mlpulse.errors.InvalidInputError: 2 problems:
      schedules.p.layers[0].rotation: must be daily, weekly, or like 12h, 3d, 2w; got 'often'
      schedules.p.time_zone: required
    """

    def __init__(self) -> None:
        self.items: list[ConfigProblem] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(ConfigProblem(path, message))

    def attempt(self, path: str, make: Callable[[], _T]) -> _T | None:
        """``make()``, or ``None`` with its error recorded under ``path``."""
        try:
            return make()
        except InvalidInputError as err:
            name = err.field or ""
            self.add(f"{path}.{name}" if name else path, err.message.removeprefix(f"{name}: "))
            return None

    def mapping(self, path: str, raw: object, keys: Iterable[str]) -> Mapping[str, Any]:
        """``raw`` if it is a mapping with only ``keys`` (problems recorded), else ``{}``."""
        if not isinstance(raw, Mapping):
            self.add(path, f"must be a mapping; got {type(raw).__name__}")
            return {}
        for key in sorted(set(map(str, raw)) - set(keys)):
            self.add(f"{path}.{key}", f"unknown key; expected one of {', '.join(keys)}")
        return raw

    def sequence(self, path: str, raw: object) -> list[object]:
        """``raw`` as a list (``None`` is empty), or ``[]`` with a problem recorded."""
        if raw is None or isinstance(raw, list | tuple):
            return list(raw or ())
        self.add(path, f"must be a list; got {type(raw).__name__}")
        return []

    def raise_if_any(self) -> None:
        if len(self.items) == 1:
            raise InvalidInputError(str(self.items[0]), field=self.items[0].path)
        if self.items:
            lines = "\n".join(f"  {p}" for p in self.items)
            raise InvalidInputError(
                f"{len(self.items)} problems:\n{lines}", field=self.items[0].path
            )


def schedules_from_config(
    raw: Mapping[str, Any], *, problems: ConfigProblems | None = None
) -> dict[str, Schedule]:
    """The ``schedules:`` section of mlpulse.yaml; every problem reported in one error
    (with ``problems``, added there instead, and the schedules that parsed returned).

    >>> schedules_from_config({"primary": {"time_zone": "Mars/Olympus", "layers": [
    ...     {"users": [], "rotation": "daily", "start": "2026-01-05"}]}})
    Traceback (most recent call last):
    ...
    mlpulse.errors.InvalidInputError: 2 problems:
      schedules.primary.time_zone: unknown time zone 'Mars/Olympus'; use an IANA name like ...
      schedules.primary.layers[0].users: must be a non-empty list of user names; got ()
    """
    found, result = ConfigProblems() if problems is None else problems, {}
    for name, body in raw.items():
        schedule = _schedule(found, str(name), body)
        if schedule is not None:
            result[str(name)] = schedule
    if problems is None:
        found.raise_if_any()
    return result


def policies_from_config(
    raw: Mapping[str, Any],
    schedules: Collection[str],
    *,
    problems: ConfigProblems | None = None,
) -> dict[str, EscalationPolicy]:
    """The ``escalation_policies:`` section; ``schedule:`` targets must name ``schedules``
    (the schedules, or only their names).

    Every problem is reported in one error (with ``problems``, added there instead).

    >>> policies_from_config({"critical": {"steps": [
    ...     {"delay_minutes": 0, "targets": ["schedule:primary", "pager:ana"]}]}}, {})
    Traceback (most recent call last):
    ...
    mlpulse.errors.InvalidInputError: 2 problems:
      escalation_policies.critical.steps[0].targets[0]: unknown schedule 'primary'; known: none
      escalation_policies.critical.steps[0].targets[1]: must be schedule:<name>, user:<name> ...
    """
    found, result = ConfigProblems() if problems is None else problems, {}
    for name, body in raw.items():
        policy = _policy(found, str(name), body, schedules)
        if policy is not None:
            result[str(name)] = policy
    if problems is None:
        found.raise_if_any()
    return result


def _schedule(problems: ConfigProblems, name: str, raw: object) -> Schedule | None:
    path, found = f"schedules.{name}", len(problems.items)
    spec = problems.mapping(path, raw, ("time_zone", "layers", "overrides"))
    zone = problems.attempt(path, lambda: _time_zone(spec.get("time_zone")))
    raw_layers = problems.sequence(f"{path}.layers", spec.get("layers"))
    layers = [_layer(problems, f"{path}.layers[{i}]", x) for i, x in enumerate(raw_layers)]
    raw_overrides = problems.sequence(f"{path}.overrides", spec.get("overrides"))
    overrides = [
        _override(problems, f"{path}.overrides[{i}]", x) for i, x in enumerate(raw_overrides)
    ]
    if zone is None or len(problems.items) > found:
        return None
    ready = tuple(x for x in layers if x), tuple(x for x in overrides if x)
    return problems.attempt(path, lambda: Schedule(name, zone, *ready))


def _policy(
    problems: ConfigProblems, name: str, raw: object, schedules: Collection[str]
) -> EscalationPolicy | None:
    path, found = f"escalation_policies.{name}", len(problems.items)
    spec = problems.mapping(path, raw, ("steps", "repeat", "repeat_delay_minutes"))
    raw_steps = problems.sequence(f"{path}.steps", spec.get("steps"))
    steps = [_step(problems, f"{path}.steps[{i}]", x, schedules) for i, x in enumerate(raw_steps)]
    options = {k: _whole(spec[k]) for k in ("repeat", "repeat_delay_minutes") if k in spec}
    if len(problems.items) > found:  # still check the options, to report all problems at once
        problems.attempt(path, lambda: EscalationPolicy(name, (_PROBE_STEP,), **options))
        return None
    ready = tuple(x for x in steps if x)
    return problems.attempt(path, lambda: EscalationPolicy(name, ready, **options))


def _step(
    problems: ConfigProblems, path: str, raw: object, schedules: Collection[str]
) -> EscalationStep | None:
    spec, found = problems.mapping(path, raw, ("delay_minutes", "targets")), len(problems.items)
    targets = []
    for i, text in enumerate(problems.sequence(f"{path}.targets", spec.get("targets"))):
        try:
            target = Target.parse(text)
        except InvalidInputError as err:
            problems.add(f"{path}.targets[{i}]", err.message.removeprefix("target: "))
            continue
        if target.kind == "schedule" and target.name not in schedules:
            known = ", ".join(sorted(schedules)) or "none"
            problems.add(
                f"{path}.targets[{i}]", f"unknown schedule {target.name!r}; known: {known}"
            )
        targets.append(target)
    delay = _whole(spec.get("delay_minutes", 0))
    if len(problems.items) > found:  # still check the delay, to report all problems at once
        problems.attempt(path, lambda: EscalationStep(delay, _PROBE_STEP.targets))
        return None
    return problems.attempt(path, lambda: EscalationStep(delay, tuple(targets)))


def _layer(problems: ConfigProblems, path: str, raw: object) -> Layer | None:
    spec = problems.mapping(path, raw, ("users", "rotation", "start", "handoff", "restrictions"))
    users = spec.get("users")
    if not isinstance(users, list | tuple):
        problems.add(f"{path}.users", f"must be a non-empty list of user names; got {users!r}")
    rotation = problems.attempt(path, lambda: Rotation.parse(spec.get("rotation")))
    start = problems.attempt(path, lambda: _date(spec.get("start"), "start"))
    handoff = problems.attempt(path, lambda: _time(spec.get("handoff", "09:00"), "handoff"))
    raw_windows = problems.sequence(f"{path}.restrictions", spec.get("restrictions"))
    windows = [
        _restriction(problems, f"{path}.restrictions[{i}]", x) for i, x in enumerate(raw_windows)
    ]
    if not isinstance(users, list | tuple) or rotation is None or start is None or handoff is None:
        return None
    restrictions = tuple(w for w in windows if w is not None)
    return problems.attempt(
        path, lambda: Layer(tuple(users), rotation, start, handoff, restrictions)
    )


def _restriction(problems: ConfigProblems, path: str, raw: object) -> Restriction | None:
    spec = problems.mapping(path, raw, ("days", "start", "end"))
    days = problems.attempt(path, lambda: _days(spec.get("days", "mon-sun")))
    start = problems.attempt(path, lambda: _time(spec.get("start"), "start"))
    end = problems.attempt(path, lambda: _time(spec.get("end"), "end"))
    if days is None or start is None or end is None:
        return None
    return Restriction(start, end, days)


def _override(problems: ConfigProblems, path: str, raw: object) -> Override | None:
    spec = problems.mapping(path, raw, ("user", "start", "end"))
    start = problems.attempt(path, lambda: _instant(spec.get("start"), "start"))
    end = problems.attempt(path, lambda: _instant(spec.get("end"), "end"))
    if start is None or end is None:
        return None
    return problems.attempt(path, lambda: Override(spec.get("user"), start, end))  # type: ignore[arg-type]


def _whole(value: object) -> Any:
    """Decimal text as the whole number it writes; anything else as given.

    The YAML reader passes every scalar as text, so ``delay_minutes: 10`` arrives as
    ``"10"``. Other values go on unchanged, for the policy and step to refuse with the
    field's name (``delay_minutes: must be a whole number; got '10m'``).

    >>> _whole("10"), _whole(" -1 "), _whole("1.5"), _whole(3)
    (10, -1, '1.5', 3)
    """
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return value


def _time_zone(value: object) -> str:
    try:
        return ZoneInfo(value).key  # type: ignore[arg-type]  # a non-str fails and is reported
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        message = f"unknown time zone {value!r}; use an IANA name like Europe/Berlin"
        raise _invalid("time_zone", message) from None


def _time(value: object, name: str) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        hours, minutes = map(int, value.split(":"))
        if hours < 24 and minutes < 60:
            return time(hours, minutes)
    hint = ""
    if isinstance(value, int) and not isinstance(value, bool):  # YAML 1.1 sexagesimal
        hint = f" (quote it: YAML reads an unquoted {value // 60}:{value % 60:02d} as {value})"
    raise _invalid(name, f'must be a local time like "09:00"{hint}; got {value!r}')


def _date(value: object, name: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(value)  # type: ignore[arg-type]  # non-str fails below
    except (TypeError, ValueError):
        raise _invalid(name, f"must be a date like 2026-01-05; got {value!r}") from None


def _instant(value: object, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if isinstance(moment, datetime) and moment.utcoffset() is not None:
            return moment.astimezone(UTC)
    except ValueError:
        pass
    raise _invalid(
        name, f"must be a date-time with a UTC offset like 2026-03-10T12:00:00+01:00; got {value!r}"
    )


def _days(value: object) -> tuple[int, ...]:
    """``mon-fri`` (a range, may wrap), ``sat``, or a list like ``[sat, sun]``."""
    names = value.split("-", 1) if isinstance(value, str) else value
    if isinstance(names, list | tuple) and names and all(_day(n) in _DAYS for n in names):
        found = [_DAYS.index(_day(n)) for n in names]
        if isinstance(value, str) and len(found) == 2:
            return tuple((found[0] + k) % 7 for k in range((found[1] - found[0]) % 7 + 1))
        return tuple(sorted(set(found)))
    raise _invalid("days", f"must be a range like mon-fri or a list like [sat, sun]; got {value!r}")


def _day(name: object) -> str:
    return str(name).strip().lower()
