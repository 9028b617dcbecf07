"""What only makes sense in combination in the alerting and runbook parts of ``mlpulse.yaml``.

Each problem names its dotted path: a rule that needs a field its kind reads, a route
or a runbook's ``notify`` naming an unknown receiver, a duration that does not parse.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from mlpulse.domain.incidents import RunbookConfig
from mlpulse.domain.oncall_config import (
    ConfigProblems,
    policies_from_config,
    schedules_from_config,
)
from mlpulse.domain.rules import RouteConfig, RuleConfig
from mlpulse.domain.window import parse_duration
from mlpulse.errors import ConfigProblem, InvalidInputError

if TYPE_CHECKING:
    from mlpulse.domain.monitoring import Config

# The fields each rule kind needs, and the ones it reads at all.
NEEDS = {
    "threshold": ("op", "value"),
    "relative": ("op", "ratio"),
    "anomaly": (),
    "absent": ("absent_for",),
    "detection": (),
}
READS = {
    "threshold": {"op", "value", "resolve_value"},
    "relative": {"op", "ratio", "baseline_window", "baseline_value"},
    "anomaly": {"sensitivity"},
    "absent": {"absent_for"},
    "detection": set(),
}
OPTIONAL_BY_KIND = {"op", "value", "resolve_value", "ratio", "baseline_value", "sensitivity",
                    "absent_for"}  # fmt: skip


def _duration(path: str, text: str | None, *, zero: bool = True) -> Iterator[ConfigProblem]:
    """A problem unless ``text`` is a duration (or, with ``zero``, written as zero)."""
    if text is None or (zero and text.strip() in ("0", "0s", "0m", "0h")):
        return
    try:
        parse_duration(text, field=path)
    except InvalidInputError as exc:
        yield ConfigProblem(path, exc.message.split(" must ", 1)[-1].join(["must ", ""]))


def _rule(path: str, rule: RuleConfig) -> Iterator[ConfigProblem]:
    for field in NEEDS[rule.kind]:
        if getattr(rule, field) is None:
            yield ConfigProblem(f"{path}.{field}", f"required for a {rule.kind} rule")
    for field in sorted(OPTIONAL_BY_KIND - READS[rule.kind]):
        if getattr(rule, field) is not None:
            yield ConfigProblem(f"{path}.{field}", f"does not apply to a {rule.kind} rule")
    if rule.kind == "threshold" and None not in (rule.op, rule.value, rule.resolve_value):
        assert rule.value is not None and rule.resolve_value is not None
        above = rule.op in (">", ">=")
        if (rule.resolve_value > rule.value) if above else (rule.resolve_value < rule.value):
            side = "at or below" if above else "at or above"
            yield ConfigProblem(
                f"{path}.resolve_value",
                f"must be {side} value ({rule.value}) for {rule.op}; got {rule.resolve_value}",
            )
    if rule.kind == "relative" and rule.ratio is not None and rule.ratio <= 0:
        yield ConfigProblem(f"{path}.ratio", f"must be above 0; got {rule.ratio}")
    if rule.sensitivity is not None and rule.sensitivity <= 0:
        yield ConfigProblem(f"{path}.sensitivity", f"must be above 0; got {rule.sensitivity}")
    yield from _duration(f"{path}.for", rule.for_ if rule.for_ != "0m" else None)
    # A zero baseline window holds no point, and an absent_for of zero would fire at once.
    yield from _duration(f"{path}.baseline_window", rule.baseline_window, zero=False)
    if rule.keep_firing_for not in ("0m", "0s"):
        yield from _duration(f"{path}.keep_firing_for", rule.keep_firing_for)
    yield from _duration(f"{path}.absent_for", rule.absent_for, zero=False)


def _route(path: str, route: RouteConfig, config: Config) -> Iterator[ConfigProblem]:
    if route.receiver is not None and route.receiver not in config.receivers:
        known = ", ".join(sorted(config.receivers)) or "none declared"
        yield ConfigProblem(
            f"{path}.receiver", f"no receiver named {route.receiver!r} (receivers: {known})"
        )
    if route.escalation_policy is not None and (
        route.escalation_policy not in config.escalation_policies
    ):
        yield ConfigProblem(
            f"{path}.escalation_policy", f"no escalation policy named {route.escalation_policy!r}"
        )
    for name in ("group_wait", "group_interval", "repeat_interval"):
        yield from _duration(f"{path}.{name}", getattr(route, name))
    fallback = route.dead_letter_receiver
    if fallback is not None and path != "route":
        yield ConfigProblem(f"{path}.dead_letter_receiver", "only the root route may set it")
    elif fallback is not None and fallback not in config.receivers:
        known = ", ".join(sorted(config.receivers)) or "none declared"
        yield ConfigProblem(
            f"{path}.dead_letter_receiver", f"no receiver named {fallback!r} (receivers: {known})"
        )
    for i, child in enumerate(route.routes):
        yield from _route(f"{path}.routes[{i}]", child, config)


def _oncall(config: Config) -> Iterator[ConfigProblem]:
    """Schedules and escalation policies parse, and their targets exist."""
    found = ConfigProblems()
    schedules_from_config(config.schedules, problems=found)
    # Policies are checked even when a schedule has problems (all problems in one run);
    # a target naming a declared schedule, broken or not, is not unknown.
    policies = policies_from_config(
        config.escalation_policies, [str(name) for name in config.schedules], problems=found
    )
    yield from found.items
    for name, policy in policies.items():  # those that parsed
        for i, step in enumerate(policy.steps):
            for j, target in enumerate(step.targets):
                path = f"escalation_policies.{name}.steps[{i}].targets[{j}]"
                if target.kind == "channel" and target.name not in config.receivers:
                    yield ConfigProblem(path, f"no receiver named {target.name!r}")
                if target.kind == "user" and target.name not in config.users:
                    yield ConfigProblem(path, f"no user named {target.name!r} (see users:)")
    for name, user in config.users.items():
        if user.receiver not in config.receivers:
            yield ConfigProblem(f"users.{name}.receiver", f"no receiver named {user.receiver!r}")


def _runbook(path: str, runbook: RunbookConfig, config: Config) -> Iterator[ConfigProblem]:
    """What would fail each time an alert matches: checked here, not at that moment."""
    yield from _duration(f"{path}.cooldown", runbook.cooldown)  # zero: no cooldown
    yield from _runbook_guardrails(path, runbook)
    for i, action in enumerate(runbook.actions):
        if action.kind == "shift_traffic":
            yield from _weights(f"{path}.actions[{i}].weights", action.weights)
        if action.kind == "webhook" and not action.url:
            yield ConfigProblem(f"{path}.actions[{i}].url", "required for a webhook action")
        if action.kind == "pause_experiment" and not action.experiment:
            yield ConfigProblem(
                f"{path}.actions[{i}].experiment", "required for a pause_experiment action"
            )
        if action.kind != "notify":
            continue
        here = f"{path}.actions[{i}].receiver"
        if action.receiver is None:
            yield ConfigProblem(here, "required for a notify action")
        elif action.receiver not in config.receivers:
            known = ", ".join(sorted(config.receivers)) or "none declared"
            yield ConfigProblem(here, f"no receiver named {action.receiver!r} (receivers: {known})")


def _runbook_guardrails(path: str, runbook: RunbookConfig) -> Iterator[ConfigProblem]:
    confirm = runbook.confirm
    if isinstance(confirm.failures, bool) or not 1 <= confirm.failures <= 100:
        yield ConfigProblem(
            f"{path}.confirm.failures", f"must be an int in [1, 100]; got {confirm.failures!r}"
        )
    yield from _duration(f"{path}.confirm.interval", confirm.interval)
    yield from _duration(f"{path}.approval_expires", runbook.approval_expires, zero=False)
    if runbook.max_per_hour < 1:
        yield ConfigProblem(
            f"{path}.max_per_hour", f"must be at least 1; got {runbook.max_per_hour}"
        )


def _weights(path: str, weights: dict[str, int]) -> Iterator[ConfigProblem]:
    """A traffic shift without weights would change nothing and be recorded as a mitigation."""
    if not weights:
        yield ConfigProblem(path, "required for a shift_traffic action (version: percent)")
    for version, weight in weights.items():
        if isinstance(weight, bool) or not 0 <= weight <= 100:
            yield ConfigProblem(f"{path}.{version}", f"must be an int in [0, 100]; got {weight!r}")


def alerting_problems(config: Config) -> list[ConfigProblem]:
    """Every problem of the rules, route, inhibit rules, on-call and runbook parts of
    ``config``."""
    problems: list[ConfigProblem] = list(_oncall(config))
    for name, rule in config.rules.items():
        problems += _rule(f"rules.{name}", rule)
    if config.route is not None:
        if config.route.receiver is None:
            problems.append(ConfigProblem("route.receiver", "the root route needs a receiver"))
        problems += _route("route", config.route, config)
    elif config.rules and config.receivers:
        problems.append(ConfigProblem("route", "rules and receivers need a route between them"))
    for name, runbook in config.runbooks.items():
        problems += _runbook(f"runbooks.{name}", runbook, config)
    return problems
