"""What applying a new ``mlpulse.yaml`` would change: a pure diff of two configs.

Fields are compared flattened to dotted names (``reference.file``,
``columns_config.amount.method``, ``actions[0].kind``), defaults included, so writing a
default out changes nothing. A rule that a monitor with ``page: true`` writes is shown
``(derived from monitors.<name>.page)`` (or ``slos.<name>.alerts``). Changes come models
first, then monitors, SLOs, probes, rules, receivers, users and runbooks, each by name, then one
``alerting`` line for each of the route, inhibit rules, schedules and escalation policies
that changed, so the same two configs always give the same plan.

>>> from mlpulse.domain.monitoring import Config, MonitorConfig
>>> old = Config(version=1, monitors={"x": MonitorConfig(model="m", check="errors"),
...                                    "y": MonitorConfig(model="m", check="quality")})
>>> new = Config(version=1, monitors={
...     "x": MonitorConfig(model="m", check="errors", window="30m"),
...     "z": MonitorConfig(model="m", check="drift")})
>>> print(plan(old, new).render())
~ monitor x: window 1h → 30m
- monitor y
+ monitor z
Plan: 1 to create, 1 to update, 1 to delete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import msgspec

from mlpulse.domain.monitoring import Config
from mlpulse.domain.paging_rules import PAGE_SUFFIX, paging_rules
from mlpulse.domain.slo_rules import BURN_SUFFIX, slo_rules

__all__ = ["Change", "Plan", "plan"]

Action: TypeAlias = Literal["create", "update", "delete"]
Kind: TypeAlias = Literal[
    "model", "monitor", "slo", "probe", "rule", "receiver", "user", "runbook", "alerting"
]
_SIGN: dict[str, str] = {"create": "+", "update": "~", "delete": "-"}


class Change(msgspec.Struct, frozen=True):
    """One model, monitor, rule, receiver, user or runbook to create, update or delete
    (or an ``alerting`` section, by its name, that changed).

    ``fields`` maps each dotted field that differs to ``(old, new)``; ``None`` stands for
    unset, so a create has every set field as ``(None, value)`` and a delete the reverse.
    """

    action: Action
    kind: Kind
    name: str
    fields: dict[str, tuple[Any, Any]]
    # Where a derived part comes from: ``monitors.x.page`` for the rule a paging monitor writes.
    derived_from: str | None = None

    def render(self) -> str:
        """One line: ``~ monitor x: window 1h → 30m, critical 0.8 → unset``."""
        head = f"{_SIGN[self.action]} {self.kind} {self.name}"
        if self.derived_from is not None:
            head += f" (derived from {self.derived_from})"
        if self.action != "update":
            return head
        diffs = ", ".join(
            f"{f} {_show(old)} → {_show(new)}" for f, (old, new) in self.fields.items()
        )
        return f"{head}: {diffs}"


class Plan(msgspec.Struct, frozen=True):
    """The changes that turn the applied config into the desired one."""

    changes: tuple[Change, ...]

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def render(self) -> str:
        """Text like ``terraform plan``: a line per change, then a summary."""
        if self.is_empty:
            return "No changes: the applied config matches the file."
        counts = {
            a: sum(c.action == a for c in self.changes) for a in ("create", "update", "delete")
        }
        summary = (
            f"Plan: {counts['create']} to create, {counts['update']} to update, "
            f"{counts['delete']} to delete."
        )
        return "\n".join([*(change.render() for change in self.changes), summary])


def plan(applied: Config, desired: Config) -> Plan:
    """The changes from ``applied`` (what runs now) to ``desired`` (the new file)."""
    changes = [
        *_diff("model", applied.models, desired.models),
        *_diff("monitor", applied.monitors, desired.monitors),
        *_diff("slo", applied.slos, desired.slos),
        *_diff("probe", applied.probes, desired.probes),
        *_derived(_diff("rule", applied.rules, desired.rules), applied, desired),
        *_diff("receiver", applied.receivers, desired.receivers),
        *_diff("user", applied.users, desired.users),
        *_diff("runbook", applied.runbooks, desired.runbooks),
    ]
    for kind, old, new in (
        ("route", applied.route, desired.route),
        ("inhibit_rules", applied.inhibit_rules, desired.inhibit_rules),
        ("schedules", applied.schedules, desired.schedules),
        ("escalation_policies", applied.escalation_policies, desired.escalation_policies),
    ):
        if old != new:
            action: Action = "create" if not old else "delete" if not new else "update"
            changes.append(Change(action, "alerting", kind, {}))
    return Plan(changes=tuple(changes))


def _derived(changes: list[Change], applied: Config, desired: Config) -> list[Change]:
    """The rule changes, each written by a paging monitor marked as derived from it."""
    derived = {*paging_rules(applied.monitors), *paging_rules(desired.monitors)}
    burns = {*slo_rules(applied.slos), *slo_rules(desired.slos)}
    marked = []
    for change in changes:
        if change.name in derived:
            source = f"monitors.{change.name.removesuffix(PAGE_SUFFIX)}.page"
            change = msgspec.structs.replace(change, derived_from=source)
        elif change.name in burns:
            source = f"slos.{change.name.split(BURN_SUFFIX, 1)[0]}.alerts"
            change = msgspec.structs.replace(change, derived_from=source)
        marked.append(change)
    return marked


def _diff(kind: Kind, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    changes = []
    for name in sorted(old.keys() | new.keys()):
        before = _flat(old[name]) if name in old else {}
        after = _flat(new[name]) if name in new else {}
        fields = {
            key: (before.get(key), after.get(key))
            for key in sorted(before.keys() | after.keys())
            if before.get(key) != after.get(key)
        }
        if name not in old:
            changes.append(Change("create", kind, name, fields))
        elif name not in new:
            changes.append(Change("delete", kind, name, fields))
        elif fields:
            changes.append(Change("update", kind, name, fields))
    return changes


def _flat(struct: msgspec.Struct) -> dict[str, Any]:
    """A Struct as dotted field → value, defaults included and unset values left out."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, msgspec.Struct):
            for field in msgspec.structs.fields(value):
                walk(f"{prefix}.{field.encode_name}".lstrip("."), getattr(value, field.name))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}", item)
        elif isinstance(value, list) and any(isinstance(v, msgspec.Struct) for v in value):
            for i, item in enumerate(value):  # a runbook's actions
                walk(f"{prefix}[{i}]", item)
        elif value is not None and value != []:
            out[prefix] = msgspec.to_builtins(value)

    walk("", struct)
    return out


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):  # as written in the file
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)
