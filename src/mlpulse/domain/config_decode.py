"""Plain data (parsed YAML or a JSON body) to a monitors-as-code :class:`Config`.

msgspec stops at the first bad value; a person fixing a file wants them all. So each
field is converted on its own and a Struct is built from the fields that converted (with
defaults for the others): a model, monitor, rule or runbook with a bad field is still
validated, so one run reports its other problems too (a part missing a required field is
left out). The config returned with problems is for reporting only, never to apply.
Defaults that depend on other fields are then written out (``positive_class`` of a
binary model, a monitor's ``metric`` and ``direction``, the rule of a monitor with
``page: true``), so the stored config says what runs and a plan shows the change when a
default would.

Receiver settings are read by the notifier adapters, which the domain does not import:
the caller passes their check (:func:`mlpulse.adapters.notify.settings_problems`), so a
setting that cannot work is reported when the file is validated, not when the collector
builds the receiver.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeAlias, Union, get_args, get_origin

import msgspec
from msgspec import inspect as mi

from mlpulse.domain.config_validation import validate
from mlpulse.domain.monitoring import (
    DEFAULT_METRIC,
    DEFAULT_POSITIVE_CLASS,
    METRICS,
    Config,
    default_direction,
)
from mlpulse.domain.paging_rules import PAGE_SUFFIX, paging_rules
from mlpulse.domain.slo_rules import BURN_SUFFIX, slo_rules
from mlpulse.errors import ConfigProblem

__all__ = ["SettingsCheck", "decode_config"]

# (receiver kind, settings) → the problems as (setting, problem).
SettingsCheck: TypeAlias = Callable[[str, Mapping[str, Any]], list[tuple[str, str]]]


def decode_config(
    raw: object, *, strict: bool = True, check_settings: SettingsCheck | None = None
) -> tuple[Config, list[ConfigProblem]]:
    """The config made of every model and monitor that decoded, and every problem found.

    ``strict=False`` lets text stand for numbers and times (``"0.9"``, ``"2026-11-01T00:00Z"``):
    the YAML reader passes every scalar as the text written, so that ``version: 1.10``
    stays ``"1.10"`` and ``positive_class: yes`` stays ``"yes"``. ``check_settings`` checks
    each receiver's settings (``receivers.<name>.settings.<setting>``).

    >>> config, problems = decode_config({"version": 1, "monitors": {
    ...     "lat": {"model": "fraud", "check": "latency", "windw": "5m"}}})
    >>> [str(p) for p in problems]
    ["monitors.lat.windw: unknown field; did you mean 'window'?"]
    >>> config, _ = decode_config({"version": 1, "monitors": {
    ...     "lat": {"model": "fraud", "check": "latency", "window": "5m"}}})
    >>> config.monitors["lat"].metric, config.monitors["lat"].direction
    ('p99', 'above')
    """
    decoder = _Decoder(strict)
    fields = decoder.struct(raw, Config, "", partial=True)
    fields.setdefault("version", 1)
    config = Config(**fields)
    # A part with a bad field is still validated (built from its good fields), so one
    # run reports its other problems too; a check of a field that did not decode, or of
    # a part holding one (a reference whose window did not decode is not "neither file
    # nor window"), would only restate the decoding problem, so it is left out.
    broken = [p.path for p in decoder.problems]
    problems = decoder.problems + [p for p in validate(config) if not _under(p.path, broken)]
    if check_settings is not None:
        for name, receiver in config.receivers.items():
            for setting, message in check_settings(receiver.kind, receiver.settings):
                path = f"receivers.{name}.settings" + (f".{setting}" if setting else "")
                problems.append(ConfigProblem(path, message))
    config = _with_defaults(config)
    derived = paging_rules(config.monitors)
    for name, rule in derived.items():
        # The same rule is there when a stored (already derived) config is read again.
        if config.rules.get(name, rule) != rule:
            monitor = name.removesuffix(PAGE_SUFFIX)
            problems.append(ConfigProblem(
                f"rules.{name}",
                f"is the name of the rule monitors.{monitor}.page writes; rename this rule",
            ))  # fmt: skip
    for name, rule in slo_rules(config.slos).items():
        if config.rules.get(name, rule) != rule or name in derived:
            slo = name.split(BURN_SUFFIX, 1)[0]
            problems.append(ConfigProblem(
                f"rules.{name}",
                f"is the name of a rule slos.{slo}.alerts writes; rename this rule",
            ))  # fmt: skip
        derived[name] = rule
    return msgspec.structs.replace(config, rules={**config.rules, **derived}), problems


def _under(path: str, broken: list[str]) -> bool:
    """Whether ``path`` is one of ``broken``, inside one or holds one.

    >>> _under("rules.r.op", ["rules.r.op"]), _under("rules.r.for", ["rules.r.op"])
    (True, False)
    >>> _under("models.m.reference", ["models.m.reference.window.start"])
    True
    """
    return any(
        path == b or path.startswith((f"{b}.", f"{b}[")) or b.startswith((f"{path}.", f"{path}["))
        for b in broken
    )


def _with_defaults(config: Config) -> Config:
    models = {
        name: msgspec.structs.replace(model, positive_class=DEFAULT_POSITIVE_CLASS)
        if model.task == "binary_classification" and model.positive_class is None
        else model
        for name, model in config.models.items()
    }
    monitors = {}
    for name, monitor in config.monitors.items():
        metric = monitor.metric or DEFAULT_METRIC.get(monitor.check)
        if metric is not None and metric in METRICS[monitor.check]:
            direction = monitor.direction or default_direction(metric)
            monitor = msgspec.structs.replace(monitor, metric=metric, direction=direction)
        monitors[name] = monitor
    return msgspec.structs.replace(config, models=models, monitors=monitors)


def _describe(tp: Any) -> str:
    """What a value of type ``tp`` looks like, in words."""
    if get_origin(tp) is Literal:  # in the order declared; type_info sorts them
        values = [str(value) for value in get_args(tp)]
        return values[0] if len(values) == 1 else "one of " + ", ".join(values)
    return _describe_info(mi.type_info(tp))


def _describe_info(info: mi.Type) -> str:
    if isinstance(info, mi.UnionType):
        return " or ".join(_describe_info(t) for t in info.types if not isinstance(t, mi.NoneType))
    if isinstance(info, mi.StrType):
        if info.max_length is not None:
            return f"text of 1 to {info.max_length} characters"
        return "text"
    if isinstance(info, mi.IntType):
        return f"a whole number from {info.ge} to {info.le}"
    if isinstance(info, mi.FloatType):
        return "a finite number"
    if isinstance(info, mi.DateTimeType):
        return "a date and time with a time zone, like 2026-11-01T00:00:00Z"
    if isinstance(info, mi.ListType):
        return f"a list of {_describe_info(info.item_type)}"
    if isinstance(info, mi.DictType | mi.StructType):
        return "a mapping"
    return "something else"  # pragma: no cover - every type we declare is handled above


class _Decoder:
    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.problems: list[ConfigProblem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(ConfigProblem(path or "(document)", message))

    def struct(
        self, raw: object, cls: type[msgspec.Struct], path: str, *, partial: bool = False
    ) -> dict[str, Any]:
        """The fields of ``cls`` that decoded; with ``partial``, a bad entry of a
        mapping of Structs drops that entry only."""
        if not isinstance(raw, dict):
            self.fail(path, f"must be a mapping; got {raw!r}")
            return {}
        fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
        found: dict[str, Any] = {}
        for key, value in raw.items():
            here = f"{path}.{key}".lstrip(".")
            field = fields.get(key)
            if field is None:
                close = difflib.get_close_matches(str(key), fields, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.fail(here, f"unknown field{hint}")
                continue
            ok, decoded = self.value(value, field.type, here, partial=partial)
            if ok:
                found[field.name] = decoded
        for name, field in fields.items():
            if field.required and name not in raw:
                self.fail(f"{path}.{name}".lstrip("."), "required field is missing")
        return found

    def value(self, raw: object, tp: Any, path: str, *, partial: bool = False) -> tuple[bool, Any]:
        origin = get_origin(tp)
        if origin in (Union, types.UnionType):
            if raw is None:
                return True, None
            tp = next(arm for arm in get_args(tp) if arm is not type(None))
            origin = get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
            before = len(self.problems)
            fields = self.struct(raw, tp, path)
            if len(self.problems) == before:
                return True, tp(**fields)
            # Built from the fields that decoded, when those include every required one,
            # so that validation still sees it; its problems are recorded already.
            try:
                return True, tp(**fields)
            except TypeError:
                return False, None
        if origin is dict and isinstance(raw, dict):
            key_type, value_type = get_args(tp)
            result, ok = {}, True
            for key, item in raw.items():
                here = f"{path}.{key}"
                key_ok, decoded_key = self.leaf(key, key_type, here, what="the name ")
                item_ok, decoded = self.value(item, value_type, here)
                if key_ok and item_ok:
                    result[decoded_key] = decoded
                ok = ok and key_ok and item_ok
            return ok or partial, result
        if origin is list and isinstance(raw, list):
            (item_type,) = get_args(tp)
            items = [self.value(item, item_type, f"{path}[{i}]") for i, item in enumerate(raw)]
            return all(ok for ok, _ in items), [item for _, item in items]
        return self.leaf(raw, tp, path)

    def leaf(self, raw: object, tp: Any, path: str, *, what: str = "") -> tuple[bool, Any]:
        try:
            return True, msgspec.convert(raw, tp, strict=self.strict)
        except msgspec.ValidationError:
            hint = ""
            if get_origin(tp) is Literal and isinstance(raw, str):  # check: latncy
                close = difflib.get_close_matches(raw, [str(v) for v in get_args(tp)], n=1)
                hint = f"; did you mean {close[0]!r}?" if close and close[0] != raw else ""
            self.fail(path, f"{what}must be {_describe(tp)}; got {raw!r}{hint}")
            return False, None
