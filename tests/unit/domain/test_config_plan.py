from __future__ import annotations

from mlpulse.domain.config_plan import Change, plan
from mlpulse.domain.incidents import ActionConfig, RunbookConfig
from mlpulse.domain.monitoring import Config, ModelConfig, MonitorConfig, ReferenceConfig
from mlpulse.domain.rules import UserConfig

LATENCY = MonitorConfig(model="fraud", check="latency", metric="p99", warning=250.0)
FRAUD = ModelConfig(task="binary_classification", reference=ReferenceConfig(file="/d/a.csv"))


def _config(**monitors: MonitorConfig) -> Config:
    return Config(version=1, models={"fraud": FRAUD}, monitors=monitors)


def test_plan_is_empty_when_nothing_changed() -> None:
    result = plan(_config(lat=LATENCY), _config(lat=LATENCY))
    assert result.is_empty
    assert result.render() == "No changes: the applied config matches the file."


def test_plan_counts_a_default_written_out_as_no_change() -> None:
    explicit = MonitorConfig(model="fraud", check="latency", metric="p99", warning=250.0,
                             window="1h", every="1m")  # fmt: skip
    assert plan(_config(lat=LATENCY), _config(lat=explicit)).is_empty


def test_plan_lists_created_updated_and_deleted_in_order() -> None:
    applied = _config(b=LATENCY, a=LATENCY)
    desired = Config(
        version=1,
        models={"fraud": FRAUD, "house": ModelConfig(task="regression")},
        monitors={"c": LATENCY, "a": MonitorConfig(model="fraud", check="latency",
                                                   metric="p99", warning=300.0, window="30m")},
    )  # fmt: skip
    result = plan(applied, desired)
    assert [(c.action, c.kind, c.name) for c in result.changes] == [
        ("create", "model", "house"),
        ("update", "monitor", "a"),
        ("delete", "monitor", "b"),
        ("create", "monitor", "c"),
    ]
    assert result.render() == (
        "+ model house\n"
        "~ monitor a: warning 250.0 → 300.0, window 1h → 30m\n"
        "- monitor b\n"
        "+ monitor c\n"
        "Plan: 2 to create, 1 to update, 1 to delete."
    )


def test_plan_names_nested_fields_with_dots() -> None:
    moved = ModelConfig(task="binary_classification", reference=ReferenceConfig(file="/d/b.csv"))
    (change,) = plan(_config(), Config(version=1, models={"fraud": moved})).changes
    assert change == Change(
        "update", "model", "fraud", {"reference.file": ("/d/a.csv", "/d/b.csv")}
    )


def test_plan_shows_unset_and_lists_readably() -> None:
    old = MonitorConfig(model="fraud", check="drift", columns=["a"], method="psi")
    new = MonitorConfig(model="fraud", check="drift", columns=["a", "b"])
    (change,) = plan(_config(d=old), _config(d=new)).changes
    assert change.render() == "~ monitor d: columns [a] → [a, b], method psi → unset"


def test_plan_create_carries_every_set_field() -> None:
    (change,) = plan(_config(), _config(lat=LATENCY)).changes
    assert change.fields["warning"] == (None, 250.0)
    assert change.fields["window"] == (None, "1h")
    assert "compare_to" not in change.fields


def test_plan_shows_users_and_runbooks_created_updated_and_deleted() -> None:
    rollback = RunbookConfig(match={"alertname": "errors-up"}, actions=[ActionConfig("rollback")])
    notify = RunbookConfig(
        match={"alertname": "errors-up"},
        actions=[ActionConfig("rollback"), ActionConfig("notify", receiver="team")],
    )
    applied = Config(
        version=1,
        users={"ana": UserConfig(receiver="ana-mail"), "bo": UserConfig(receiver="bo-mail")},
        runbooks={"fix": rollback, "old": rollback},
    )
    desired = Config(
        version=1,
        users={"ana": UserConfig(receiver="pager"), "cem": UserConfig(receiver="cem-mail")},
        runbooks={"fix": notify},
    )
    assert plan(applied, desired).render() == (
        "~ user ana: receiver ana-mail → pager\n"
        "- user bo\n"
        "+ user cem\n"
        "~ runbook fix: actions[1].kind unset → notify, actions[1].receiver unset → team, "
        "actions[1].template unset → plain\n"
        "- runbook old\n"
        "Plan: 1 to create, 2 to update, 2 to delete."
    )
    assert plan(desired, desired).is_empty
