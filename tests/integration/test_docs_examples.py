"""The mlpulse.yaml examples in the documentation are valid, checked the way the CLI checks.

Convention: a ```yaml block in docs/configuration.md whose first line starts with
``# validate`` is a complete mlpulse.yaml and is checked here; other yaml blocks are
fragments and are not. ``# validate: <path>`` also says the block is that file of the
repository, word for word after the marker line (the complete example,
docs/examples/mlpulse.yaml).

Each file goes through :func:`mlpulse.adapters.config.load_config`, which is what
``mlpulse plan`` and ``mlpulse apply`` run before they talk to a collector, then through
the decoding the collector applies to ``PUT /v1/config`` (what ``mlpulse apply`` sends).
Reference files a document names are created empty beside its copy: ``load_config`` only
checks that they exist; their content is the training data of whoever applies the file.
Finally the checks the collector makes only when it runs: every receiver can be built
from its settings, the escalation policies parse, and every runbook's cooldown is a
duration. The alerting example of docs/alerting.md (its ```yaml block with
``escalation_policies``) is checked the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import yaml

from mlpulse.adapters.config import load_config
from mlpulse.adapters.notify import build_notifier
from mlpulse.domain.config_decode import decode_config
from mlpulse.domain.monitoring import Config
from mlpulse.domain.oncall_config import policies_from_config, schedules_from_config
from mlpulse.domain.window import parse_duration
from mlpulse.errors import ConfigFileError
from mlpulse.server.receivers import expand

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DOC = ROOT / "docs" / "configuration.md"
ALERTING_DOC = ROOT / "docs" / "alerting.md"
EXAMPLE = ROOT / "docs" / "examples" / "mlpulse.yaml"
MARKER = "# validate"
_FENCE = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)
# Values for the ${NAME} settings of the documented receivers, as a collector's
# environment would hold them.
ENVIRONMENT = {
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/XXXX",
    "PAGERDUTY_ROUTING_KEY": "0123456789abcdef0123456789abcdef",
    "OPSGENIE_API_KEY": "00000000-0000-0000-0000-000000000000",
    "WEBHOOK_SECRET": "a-long-random-secret",
    "SMTP_PASSWORD": "an-smtp-password",
    # The alerting example of docs/alerting.md.
    "PD_ROUTING_KEY": "0123456789abcdef0123456789abcdef",
    "HOOK_SECRET": "another-long-random-secret",
}


def marked_blocks() -> Iterator[tuple[int, str, str | None]]:
    """(line in the document, YAML text, repository path or None) of each marked block."""
    text = REFERENCE_DOC.read_text(encoding="utf-8")
    for match in _FENCE.finditer(text):
        body = match.group(1)
        first, _, rest = body.partition("\n")
        if not first.startswith(MARKER):
            continue
        line = text.count("\n", 0, match.start()) + 1
        target = first.removeprefix(MARKER).strip().removeprefix(":").strip() or None
        yield line, (rest if target else body), target


BLOCKS = list(marked_blocks())


def check_document(text: str, folder: Path) -> Config:
    """Validate ``text`` as mlpulse.yaml in ``folder``; the config, or a failure listing
    every problem as the CLI prints them."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load(text)
    for model in (raw.get("models") or {}).values():
        reference = (model or {}).get("reference") or {}
        if isinstance(reference.get("file"), str):
            stub = folder / reference["file"]
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.touch()
    path = folder / "mlpulse.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        config = load_config(path)
    except ConfigFileError as exc:
        pytest.fail(f"the CLI refuses the document:\n{exc}")
    # What the collector does with the JSON that `mlpulse apply` sends.
    body = msgspec.json.decode(msgspec.json.encode(config))
    applied, problems = decode_config(body, strict=False)
    assert [str(p) for p in problems] == []
    assert applied == config
    return config


def alerting_example() -> str:
    """The ```yaml block of docs/alerting.md with ``escalation_policies``."""
    blocks = [m.group(1) for m in _FENCE.finditer(ALERTING_DOC.read_text(encoding="utf-8"))]
    (block,) = [b for b in blocks if re.search(r"^escalation_policies:", b, re.MULTILINE)]
    return block


def check_runtime(config: Config) -> None:
    """What the collector checks only when it uses the config."""
    for receiver in config.receivers.values():
        settings = expand(dict(receiver.settings), ENVIRONMENT)
        build_notifier(receiver.kind, settings).close()  # raises, naming the setting
    schedules = schedules_from_config(config.schedules)  # as the escalations read them
    policies_from_config(config.escalation_policies, schedules)
    for name, runbook in config.runbooks.items():
        parse_duration(runbook.cooldown, field=f"runbooks.{name}.cooldown")
        for action in runbook.actions:
            if action.kind == "notify":
                assert action.receiver in config.receivers, f"runbooks.{name}: {action}"


def test_the_reference_marks_blocks_to_check() -> None:
    assert len(BLOCKS) >= 5, "docs/configuration.md lost its # validate blocks"
    assert [target for *_, target in BLOCKS if target] == ["docs/examples/mlpulse.yaml"]


def test_the_complete_example_file_is_valid(tmp_path: Path) -> None:
    config = check_document(EXAMPLE.read_text(encoding="utf-8"), tmp_path)
    check_runtime(config)
    # It uses every top-level section, so it is the complete example the docs promise.
    sections = [field.name for field in msgspec.structs.fields(Config)]
    assert [name for name in sections if not getattr(config, name)] == []


@pytest.mark.parametrize(
    ("line", "text", "target"), BLOCKS, ids=[f"configuration.md:{line}" for line, *_ in BLOCKS]
)
def test_every_marked_block_of_the_reference_is_valid(
    tmp_path: Path, line: int, text: str, target: str | None
) -> None:
    if target is not None:  # the block is that file, word for word
        assert text == (ROOT / target).read_text(encoding="utf-8")
    check_runtime(check_document(text, tmp_path))


def test_the_alerting_example_passes_mlpulse_plan(tmp_path: Path) -> None:
    text = alerting_example()
    # A fragment of mlpulse.yaml: without the version line, give it one.
    if not re.search(r"^version:", text, re.MULTILINE):
        text = "version: 1\n" + text
    config = check_document(text, tmp_path)
    check_runtime(config)
    schedules = schedules_from_config(config.schedules)
    (policy,) = policies_from_config(config.escalation_policies, schedules).values()
    assert [step.delay_minutes for step in policy.steps] == [0, 10]


def test_the_probes_example_is_valid(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "probes.md").read_text(encoding="utf-8")
    (block,) = [m.group(1) for m in _FENCE.finditer(text) if m.group(1).startswith(MARKER)]
    config = check_document(block, tmp_path)
    assert set(config.probes) == {"fraud-health", "fraud-predict"}
    assert config.rules["fraud-probe-down"].series == "mlpulse_probe_success"
