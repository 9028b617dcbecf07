"""The options of ``mlpulse report`` and ``mlpulse check`` as the Python API's arguments.

``--thresholds FILE`` (YAML or JSON) has the shape of ``mlpulse.report``'s ``checks``
and ``share`` arguments, with the keys of a monitor's ``columns_config``::

    columns:
      amount: {method: wasserstein, warning: 0.1, critical: 0.3}
      country: {method: psi}
      age: {method: ks, critical: 0.001}   # warning: the default of ks (0.05)
    share: {warning: 0.3, critical: 0.6}   # share of drifted columns for the dataset

``--method COL=METHOD`` sets a column's method (over the file's). Every problem raises
:class:`~mlpulse.errors.ConfigurationError` whose message names the flag, or the file
and the dotted key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from mlpulse.core.drift.check import DEFAULT_SHARE, ColumnCheck, Kind
from mlpulse.core.drift.methods import CATEGORICAL, NUMERIC, Method, Thresholds
from mlpulse.errors import ConfigurationError

__all__ = ["ColumnOptions", "column_options", "methods_for"]

_COLUMN_KEYS: Final = ("method", "warning", "critical")


@dataclass(frozen=True, slots=True)
class ColumnOptions:
    """What ``mlpulse.report`` takes for the flags: ``checks`` and ``share``."""

    checks: Mapping[str, ColumnCheck] = field(default_factory=dict)
    share: Thresholds | None = None


def methods_for(kind: Kind) -> dict[str, Method]:
    """The drift methods that fit a column of ``kind`` (booleans are categories)."""
    return NUMERIC if kind == "numeric" else CATEGORICAL


@dataclass(frozen=True, slots=True)
class _Entry:
    method: str | None
    warning: float | None
    critical: float | None
    where: str  # "FILE: columns.amount" or "--method amount=psi", for messages


def column_options(
    *, methods: Sequence[str], thresholds: Path | None, kinds: Mapping[str, Kind]
) -> ColumnOptions:
    """``--method COL=METHOD`` values and the ``--thresholds`` file as report arguments.

    ``kinds`` are the columns the two datasets share (after ``--exclude``), by kind:
    every column named must be one of them, and its method must fit its kind.
    """
    entries: dict[str, _Entry] = {}
    share = None
    if thresholds is not None:
        entries, share = _read_file(thresholds, kinds)
    for value in methods:
        column, sep, method = value.partition("=")
        column, method = column.strip(), method.strip()
        if not sep or not column or not method:
            raise ConfigurationError(f"--method must be COLUMN=METHOD; got {value!r}")
        where = f"--method {value}"
        _check_column(column, kinds, where)
        _check_method(method, kinds[column], where)
        own = entries.get(column)
        entries[column] = _Entry(
            method, own.warning if own else None, own.critical if own else None, where
        )
    return ColumnOptions({c: _column_check(e, kinds[c]) for c, e in entries.items()}, share)


def _read_file(
    path: Path, kinds: Mapping[str, Kind]
) -> tuple[dict[str, _Entry], Thresholds | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigurationError(f"--thresholds {path}: cannot read the file: {reason}") from exc
    document = _parse(path, text)
    if not isinstance(document, Mapping):
        raise ConfigurationError(f"{path}: expected a mapping with 'columns' and/or 'share'")
    unknown = sorted(str(k) for k in document if k not in ("columns", "share"))
    if unknown:
        raise ConfigurationError(f"{path}: {unknown[0]}: unknown key; expected columns or share")
    columns = document.get("columns") or {}
    if not isinstance(columns, Mapping):
        raise ConfigurationError(f"{path}: columns: expected a mapping of column to settings")
    entries: dict[str, _Entry] = {}
    for name, settings in columns.items():
        where = f"{path}: columns.{name}"
        _check_column(str(name), kinds, where)
        if not isinstance(settings, Mapping):
            raise ConfigurationError(f"{where}: expected a mapping with {', '.join(_COLUMN_KEYS)}")
        extra = sorted(str(k) for k in settings if k not in _COLUMN_KEYS)
        if extra:
            raise ConfigurationError(
                f"{where}.{extra[0]}: unknown key; expected {', '.join(_COLUMN_KEYS)}"
            )
        method = settings.get("method")
        if method is not None:
            if not isinstance(method, str):
                raise ConfigurationError(f"{where}.method: expected a name; got {method!r}")
            _check_method(method, kinds[str(name)], f"{where}.method")
        entries[str(name)] = _Entry(
            method,
            _number(settings.get("warning"), f"{where}.warning"),
            _number(settings.get("critical"), f"{where}.critical"),
            where,
        )
    return entries, _share(document.get("share"), f"{path}: share")


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigurationError(f"{path}{line}: not valid YAML: {reason}") from exc


def _check_column(column: str, kinds: Mapping[str, Kind], where: str) -> None:
    if column not in kinds:
        shown = ", ".join(sorted(kinds)) or "none"
        raise ConfigurationError(
            f"{where}: no column {column!r} in both datasets (compared: {shown})"
        )


def _check_method(method: str, kind: Kind, where: str) -> None:
    fitting = methods_for(kind)
    if method not in fitting:
        known = method in NUMERIC or method in CATEGORICAL
        problem = f"{method!r} does not fit a {kind} column" if known else f"no method {method!r}"
        expected = ", ".join(sorted(fitting))
        raise ConfigurationError(f"{where}: {problem}; expected one of {expected}")


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{where}: expected a number; got {value!r}")
    return float(value)


def _share(value: Any, where: str) -> Thresholds | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) - {"warning", "critical"}:
        raise ConfigurationError(f"{where}: expected a mapping with warning and/or critical")
    warning = _number(value.get("warning"), f"{where}.warning")
    critical = _number(value.get("critical"), f"{where}.critical")
    share = Thresholds(
        DEFAULT_SHARE.warning if warning is None else warning,
        DEFAULT_SHARE.critical if critical is None else critical,
    )
    if not 0 <= share.warning < share.critical <= 1:
        raise ConfigurationError(
            f"{where}: expected 0 <= warning < critical <= 1; "
            f"got warning {share.warning:g}, critical {share.critical:g}"
        )
    return share


def _column_check(entry: _Entry, kind: Kind) -> ColumnCheck:
    if entry.warning is None and entry.critical is None:
        return ColumnCheck(method=entry.method)
    if entry.method is None:
        raise ConfigurationError(
            f"{entry.where}: thresholds need a method (set method, or --method); without one "
            "the method, and so whether smaller or larger values are worse, depends on the "
            "sample size"
        )
    method = methods_for(kind)[entry.method]
    default = method.thresholds
    warning = default.warning if entry.warning is None else entry.warning
    critical = default.critical if entry.critical is None else entry.critical
    if method.p_value:
        valid, order = 0 <= critical < warning <= 1, "0 <= critical < warning <= 1 (p-values)"
    else:
        valid, order = 0 <= warning < critical, "0 <= warning < critical (a distance)"
    if not valid:
        raise ConfigurationError(
            f"{entry.where}: {entry.method} expects {order}; got warning {warning:g}, "
            f"critical {critical:g} (unset ones are the method's defaults)"
        )
    return ColumnCheck(method=entry.method, thresholds=Thresholds(warning, critical))
