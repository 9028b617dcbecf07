"""``mlpulse.yaml`` to a validated :class:`~mlpulse.domain.monitoring.Config`, and back.

The file is composed into YAML nodes rather than loaded into Python values, for two
reasons. Every scalar stays the text that was written: PyYAML would load ``version: 1.10``
as the float 1.1, ``positive_class: yes`` as ``True`` and a model named ``1`` as an int;
the domain decoder converts text to a number or a time only where a field wants one.
And each node knows its line, so a problem names the file, the line and the dotted path:

    mlpulse.yaml:14: monitors.fraud-drift.window: must be a duration like 30s, 5m, 1h
    or 7d; got 'soon'

Top-level keys starting with ``x-`` are ignored, as in docker compose, to hold anchors
that monitors share with YAML merge keys (``x-fast: &fast {window: 5m}``, then
``<<: *fast``). Every YAML error becomes a :class:`~mlpulse.errors.ConfigFileError`
here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import msgspec
import yaml

from mlpulse.adapters.notify import settings_problems
from mlpulse.domain.config_decode import decode_config
from mlpulse.domain.monitoring import Config, ModelConfig
from mlpulse.errors import ConfigFileError, ConfigProblem

__all__ = ["dump_config", "load_config"]

_NULL: Final = "tag:yaml.org,2002:null"
_MERGE: Final = "tag:yaml.org,2002:merge"


def load_config(path: Path) -> Config:
    """Read, decode and validate ``path``; reference files resolved against its folder.

    Raises :class:`~mlpulse.errors.ConfigFileError` listing every problem found, in the
    order of the file, each with the file, line and dotted path. A reference ``file`` in
    the returned config is an absolute path to a file that existed when it was read.
    """
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigFileError(
            [ConfigProblem("", f"cannot read the file: {reason}", file=name)]
        ) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        problem = ConfigProblem("", f"not valid YAML: {reason}", file=name, line=line)
        raise ConfigFileError([problem]) from exc
    if node is None:
        raise ConfigFileError([ConfigProblem("", "the file is empty", file=name)])
    document = _Document()
    raw = document.plain(node, "")
    if isinstance(raw, dict):  # `x-...: &anchor` holds shared values, as in docker compose
        raw = {key: value for key, value in raw.items() if not key.startswith("x-")}
    config, problems = decode_config(raw, strict=False, check_settings=settings_problems)
    models = {}
    for model_name, model in config.models.items():
        resolved, missing = _resolve_reference(model_name, model, path.parent)
        models[model_name] = resolved
        problems += [missing] if missing is not None else []
    if not document.problems and not problems:
        return msgspec.structs.replace(config, models=models)
    located = [document.locate(p, name) for p in document.problems + problems]
    located.sort(key=lambda p: p.line or 0)
    raise ConfigFileError(located)


def dump_config(config: Config) -> str:
    """``config`` as YAML, for storing the applied config and showing it.

    Fields at their defaults are left out. ``msgspec.yaml.decode(text, type=Config)`` reads
    it back to an equal config (without the checks :func:`load_config` makes).
    """
    # Times stay datetimes so that YAML writes them as timestamps, which read back as times.
    data = msgspec.to_builtins(config, builtin_types=(datetime,))
    text: str = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return text


def _resolve_reference(
    name: str, model: ModelConfig, folder: Path
) -> tuple[ModelConfig, ConfigProblem | None]:
    reference = model.reference
    if reference is None or reference.file is None:
        return model, None
    target = (folder / reference.file).resolve()
    if not target.is_file():
        where = "" if Path(reference.file).is_absolute() else f" (relative to {folder.resolve()})"
        message = f"no such file: {reference.file!r}{where}"
        return model, ConfigProblem(f"models.{name}.reference.file", message)
    resolved = msgspec.structs.replace(reference, file=str(target))
    return msgspec.structs.replace(model, reference=resolved), None


@dataclass
class _Document:
    """Plain values from YAML nodes, the line of every dotted path, and YAML-level problems."""

    lines: dict[str, int] = field(default_factory=dict)
    problems: list[ConfigProblem] = field(default_factory=list)

    active: set[int] = field(default_factory=set)  # nodes being read: an alias loop

    def plain(self, node: Any, path: str) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return None if node.tag == _NULL else node.value
        if id(node) in self.active:
            self.problems.append(ConfigProblem(path, "an alias contains itself"))
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                items = []
                for i, item in enumerate(node.value):
                    self.lines.setdefault(f"{path}[{i}]", item.start_mark.line + 1)
                    items.append(self.plain(item, f"{path}[{i}]"))
                return items
            return self._mapping(node, path)
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: Any, path: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        found: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE:  # `<<: *defaults` shares fields; explicit keys win
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in sources:
                    if isinstance(source, yaml.MappingNode):
                        for key, value in self._mapping(source, path).items():
                            merged.setdefault(key, value)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(ConfigProblem(path, "a key must be plain text", line=line))
                continue
            key = key_node.value
            here = f"{path}.{key}".lstrip(".")
            if key in found:
                first = self.lines[here]
                self.problems.append(
                    ConfigProblem(here, f"duplicate key; the first is at line {first}", line=line)
                )
                continue
            self.lines[here] = line
            found[key] = self.plain(value_node, here)
        return {**merged, **found}

    def locate(self, problem: ConfigProblem, file: str) -> ConfigProblem:
        """``problem`` with the file and the line of its path (or of the nearest parent)."""
        line, path = problem.line, problem.path
        while line is None and path:
            line = self.lines.get(path)
            path = path[: max(path.rfind("."), path.rfind("["), 0)]
        return ConfigProblem(problem.path, problem.message, file=file, line=line)
