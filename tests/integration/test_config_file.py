"""mlpulse.yaml read from disk: the full example, each kind of error, paths and lines."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from mlpulse.adapters.config import dump_config, load_config
from mlpulse.domain.monitoring import Config
from mlpulse.errors import ConfigFileError, ConfigurationError

FULL = """\
version: 1
x-fast: &fast
  window: 5m
  every: 1m
models:
  fraud:
    task: binary_classification
    schema: {amount: numeric, country: categorical}
    segments: [country]
    reference:
      file: data/train.parquet
      label_column: is_fraud
      version: 1.10
  1:
    task: regression
    reference:
      window: {start: 2026-11-01T00:00:00Z, end: 2026-11-08T00:00:00Z}
  yes:
    task: binary_classification
    positive_class: yes
monitors:
  fraud-drift:
    model: fraud
    check: drift
    window: 1d
    every: 1h
    compare_to: reference
    columns: [amount, country]
    method: psi
    columns_config: {amount: {method: wasserstein, warning: 0.1, critical: 0.2}}
  fraud-latency:
    <<: *fast
    model: fraud
    check: latency
    metric: p95
    warning: 250
    critical: 500
  fraud-accuracy:
    model: fraud
    check: performance
    metric: accuracy
    version: v3
    window: 1d
    warning: 0.9
    critical: 0.8
    segment_by: [country]
  house-r2:
    model: 1
    check: performance
    metric: r2
    critical: 0
"""


def _write(folder: Path, text: str, name: str = "mlpulse.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(ConfigFileError) as info:
        load_config(path)
    return [str(problem) for problem in info.value.problems]


@pytest.fixture
def full(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.parquet").write_bytes(b"PAR1")
    return _write(tmp_path, FULL)


def test_load_config_reads_the_full_example(full: Path) -> None:
    config = load_config(full)
    assert list(config.models) == ["fraud", "1", "yes"]
    fraud = config.models["fraud"]
    assert fraud.reference is not None
    assert fraud.reference.file == str((full.parent / "data" / "train.parquet").resolve())
    assert fraud.reference.version == "1.10"  # text as written, not the float 1.1
    assert fraud.positive_class == "1"
    assert config.models["yes"].positive_class == "yes"  # not True
    window = config.models["1"].reference.window  # type: ignore[union-attr]
    assert window is not None
    assert window.start == datetime(2026, 11, 1, tzinfo=UTC)
    latency = config.monitors["fraud-latency"]
    assert (latency.window, latency.every, latency.warning, latency.direction) == (
        "5m", "1m", 250.0, "above"
    )  # fmt: skip
    assert config.monitors["house-r2"].model == "1"
    assert config.monitors["fraud-drift"].columns_config["amount"].critical == 0.2


def test_dump_config_reads_back_to_an_equal_config(full: Path, tmp_path: Path) -> None:
    config = load_config(full)
    text = dump_config(config)
    assert msgspec.yaml.decode(text, type=Config) == config
    again = tmp_path / "elsewhere"
    again.mkdir()
    assert load_config(_write(again, text)) == config


def test_load_config_resolves_a_reference_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "train.csv").write_text("a\n1\n")
    path = _write(tmp_path / "conf", "version: 1\nmodels: {m: {reference: {file: ../train.csv}}}")
    reference = load_config(path).models["m"].reference
    assert reference is not None
    assert reference.file == str((tmp_path / "train.csv").resolve())


def test_load_config_reports_a_missing_reference_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "version: 1\nmodels:\n  m:\n    reference: {file: data/x.csv}\n")
    assert _errors(path) == [
        f"{path}:4: models.m.reference.file: no such file: 'data/x.csv' "
        f"(relative to {tmp_path.resolve()})"
    ]


def test_load_config_names_file_line_and_path_of_a_bad_duration(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        version: 1
        monitors:
          fraud-drift:
            model: fraud
            check: drift
            window: soon
        """,
    )
    assert _errors(path) == [
        f"{path}:6: monitors.fraud-drift.window: must be a duration like 30s, 5m, 1h or 7d; "
        "got 'soon'"
    ]


def test_load_config_reports_every_problem_together_in_file_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        version: 1
        models:
          house:
            task: regression
            positive_class: 1
          fraud:
            task: binary_classification
            reference: {file: a.csv, window: {start: 2026-11-01T00:00:00Z, end: 2026-11-02T00:00:00Z}}
        monitors:
          lat:
            model: fraud
            check: latency
            compare_to: reference
            warning: 500
            critical: 250
          acc:
            model: house
            check: performance
            metric: accuracy
            k: 10
          typo:
            model: fraud
            chek: drift
          acc:
            model: house
            check: errors
        """,  # noqa: E501
    )
    with pytest.raises(ConfigurationError) as info:
        load_config(path)
    assert isinstance(info.value, ConfigFileError)
    problems = [(p.line, p.path, p.message) for p in info.value.problems]
    assert problems == [
        (5, "models.house.positive_class",
         "applies only to task binary_classification; the model's task is regression"),
        (8, "models.fraud.reference",
         "set exactly one of file (training data) and window (a pinned window); both are set"),
        (8, "models.fraud.reference.file",
         f"no such file: 'a.csv' (relative to {tmp_path.resolve()})"),
        (13, "monitors.lat.compare_to",
         "does not apply to a latency monitor; it applies to drift, prediction_drift, quality"),
        (15, "monitors.lat.critical",
         "must be above warning (500.0) when direction is above; got 250.0"),
        (19, "monitors.acc.metric",
         "'accuracy' does not apply to model 'house' (task regression); use one of mae, rmse, "
         "mape, r2"),
        (20, "monitors.acc.k",
         "applies only to the ranking metrics precision_at_k, recall_at_k, ndcg_at_k, mrr, "
         "hit_rate; metric is accuracy"),
        (21, "monitors.typo.check", "required field is missing"),
        (23, "monitors.typo.chek", "unknown field; did you mean 'check'?"),
        (24, "monitors.acc", "duplicate key; the first is at line 16"),
    ]  # fmt: skip
    assert str(info.value).startswith(f"10 problems in {path}:\n  {path}:5: models.house.")


def test_load_config_reports_a_yaml_syntax_error_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "version: 1\nmodels:\n  a: b: c\n")
    assert _errors(path) == [f"{path}:3: not valid YAML: mapping values are not allowed here"]


def test_load_config_reports_a_list_item_by_index(tmp_path: Path) -> None:
    path = _write(tmp_path, "version: 1\nmodels:\n  m:\n    segments:\n      - a\n      - [b]\n")
    assert _errors(path) == [
        f"{path}:6: models.m.segments[1]: must be text of 1 to 200 characters; got ['b']"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("version: 2\n", "1: version: must be 1; got '2'"),
        ("models: {}\n", "version: required field is missing"),
        ("- 1\n", "(document): must be a mapping; got ['1']"),
        ("version: 1\nmonitors:\n  m: {model: a, check: drfit}\n",
         "3: monitors.m.check: must be one of drift, quality, performance, "
         "estimated_performance, latency, throughput, errors, prediction_drift; got 'drfit'; "
         "did you mean 'drift'?"),
        ("version: 1\nmonitors:\n  m: {model: a, check: errors, warning: high}\n",
         "3: monitors.m.warning: must be a finite number; got 'high'"),
    ],
)  # fmt: skip
def test_load_config_reports_each_kind_of_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    (problem,) = _errors(path)
    where = f"{path}:" if expected[0].isdigit() else f"{path}: "
    assert problem == where + expected


def test_load_config_reports_an_unreadable_file(tmp_path: Path) -> None:
    assert _errors(tmp_path / "absent.yaml") == [
        f"{tmp_path / 'absent.yaml'}: cannot read the file: No such file or directory"
    ]


def test_load_config_reports_an_alias_that_contains_itself(tmp_path: Path) -> None:
    path = _write(tmp_path, "version: 1\nmodels: &loop\n  m: *loop\n")
    assert _errors(path)[0] == f"{path}:3: models.m: an alias contains itself"


def test_load_config_reads_numbers_and_booleans_of_receiver_settings_and_policies(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path,
        """\
        version: 1
        receivers:
          mail:
            kind: email
            settings: {to: ana@example.com, from: mlpulse@example.com, host: smtp.example.com,
                       port: 2525, starttls: false, timeout: 2.5, rate_per_s: 1, burst: 3}
          hook: {kind: webhook, settings: {url: "https://hooks.example/x", max_alerts: 20}}
        users: {ana: {receiver: mail}}
        escalation_policies:
          critical:
            steps:
              - {delay_minutes: 0, targets: ["user:ana"]}
              - {delay_minutes: 10, targets: ["channel:hook"]}
            repeat: 2
            repeat_delay_minutes: 15
        runbooks:
          tell: {match: {severity: critical}, actions: [{kind: notify, receiver: hook}]}
        """,
    )
    config = load_config(path)
    # Kept as the text written; the notifier and the policy read the numbers from it.
    assert config.receivers["mail"].settings["port"] == "2525"
    assert config.escalation_policies["critical"]["repeat_delay_minutes"] == "15"


def test_load_config_reports_receiver_settings_and_runbooks_that_cannot_work(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path,
        """\
        version: 1
        receivers:
          mail:
            kind: email
            settings:
              to: "${ONCALL_EMAIL}"
              from: mlpulse@example.com
              host: smtp.example.com
              port: 587x
              starttls: maybe
          team: {kind: slack, settings: {url: "ftp://hooks.example", chanel: "#ml"}}
        escalation_policies:
          critical: {steps: [{delay_minutes: 10m, targets: ["channel:team"]}]}
        runbooks:
          rollback:
            match: {alertname: errors-up}
            actions: [{kind: rollback}, {kind: notify, receiver: pager}]
            cooldown: soon
        """,
    )
    assert _errors(path) == [
        f"{path}:9: receivers.mail.settings.port: must be an int in [1, 65535]; got '587x'",
        f"{path}:10: receivers.mail.settings.starttls: must be true or false; got 'maybe'",
        f"{path}:11: receivers.team.settings.url: must be an http(s) URL; "
        "got 'ftp://hooks.example'",
        f"{path}:11: receivers.team.settings.chanel: unknown setting of a slack receiver; "
        "known: burst, rate_per_s, timeout, url",
        f"{path}:13: escalation_policies.critical.steps[0].delay_minutes: must be a whole "
        "number; got '10m'",
        f"{path}:17: runbooks.rollback.actions[1].receiver: no receiver named 'pager' "
        "(receivers: mail, team)",
        f"{path}:18: runbooks.rollback.cooldown: must be a duration like 30s, 5m, 1h or 7d; "
        "got 'soon'",
    ]


MIXED_ERRORS = """\
version: 1
models:
  fraud:
    task: binary_classification
    segmnts: [country]
monitors:
  lat:
    model: fraud
    check: latency
    windw: 5m
    warning: 900
    critical: 300
  drift:
    model: fraud
    check: drift
    segment_by: [country]
rules:
  slow:
    kind: threshold
    series: mlpulse_latency_seconds
    op: "=>"
    value: 0.5
    for: soon
receivers:
  team: {kind: slack, settings: {url: "https://hooks.slack.com/services/T/B/C"}}
route: {receiver: team}
runbooks:
  rb:
    match: {alertname: slow}
    cooldown: soon
    extra: 1
    actions:
      - {kind: notify, receiver: nobody}
"""


def test_load_config_reports_eight_mixed_problems_in_one_run(tmp_path: Path) -> None:
    path = _write(tmp_path, MIXED_ERRORS)
    found = [error.removeprefix(f"{path}:") for error in _errors(path)]
    # In the order of the file, each with its line and dotted path.
    assert [error.split(": ", 2)[0] + ": " + error.split(": ", 2)[1] for error in found] == [
        "5: models.fraud.segmnts",
        "10: monitors.lat.windw",
        "12: monitors.lat.critical",
        "16: monitors.drift.segment_by",
        "21: rules.slow.op",
        "23: rules.slow.for",
        "30: runbooks.rb.cooldown",
        "31: runbooks.rb.extra",
        "33: runbooks.rb.actions[0].receiver",
    ]
