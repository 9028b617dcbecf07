from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from mlpulse.domain.escalation import (
    EscalationPolicy,
    EscalationStep,
    Page,
    Target,
    due_pages,
    escalation_plan,
)
from mlpulse.domain.oncall_config import policies_from_config
from mlpulse.domain.schedules import Layer, Restriction, Rotation, Schedule
from mlpulse.errors import InvalidInputError

T0 = datetime(2026, 1, 6, 8, 55, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _daily(name: str, *users: str, handoff: time = time(9)) -> Schedule:
    return Schedule(
        name, "UTC", (Layer(users, Rotation.parse("daily"), date(2026, 1, 5), handoff),)
    )


SCHEDULES = {
    "primary": _daily("primary", "ana", "ben"),  # ana until 09:00 on 6 Jan, then ben
    "secondary": _daily("secondary", "cem", "dan"),
}


def _step(delay: int, *targets: str) -> EscalationStep:
    return EscalationStep(delay, tuple(Target.parse(t) for t in targets))


POLICY = EscalationPolicy(
    "critical",
    (_step(0, "schedule:primary"), _step(10, "schedule:secondary"), _step(10, "channel:ml-team")),
)


def test_escalation_plan_pages_each_step_after_its_delay() -> None:
    assert escalation_plan(POLICY, SCHEDULES, triggered_at=T0) == [
        Page(T0, 0, 0, ("ana",), ()),
        Page(T0 + 10 * MINUTE, 1, 0, ("dan",), ()),
        Page(T0 + 20 * MINUTE, 2, 0, (), ("ml-team",)),
    ]


def test_schedule_targets_resolve_to_who_is_on_call_at_the_page_time() -> None:
    policy = EscalationPolicy("p", (_step(0, "schedule:primary"), _step(10, "schedule:primary")))
    first, second = escalation_plan(policy, SCHEDULES, triggered_at=T0)
    assert (first.users, second.users) == (("ana",), ("ben",))  # the hand-off was at 09:00


def test_due_pages_sends_the_first_step_at_the_trigger() -> None:
    pages = due_pages(POLICY, SCHEDULES, triggered_at=T0, now=T0)
    assert [(p.step_index, p.users) for p in pages] == [(0, ("ana",))]


def test_due_pages_escalates_to_the_secondary_after_ten_unacknowledged_minutes() -> None:
    sent = {(0, 0)}
    assert (
        due_pages(POLICY, SCHEDULES, triggered_at=T0, now=T0 + 9 * MINUTE, already_sent=sent) == []
    )
    pages = due_pages(POLICY, SCHEDULES, triggered_at=T0, now=T0 + 10 * MINUTE, already_sent=sent)
    assert [(p.step_index, p.users) for p in pages] == [(1, ("dan",))]


def test_due_pages_reaches_the_team_channel_when_nobody_acknowledges() -> None:
    sent = {(0, 0), (1, 0)}
    pages = due_pages(POLICY, SCHEDULES, triggered_at=T0, now=T0 + 20 * MINUTE, already_sent=sent)
    assert [(p.step_index, p.channels) for p in pages] == [(2, ("ml-team",))]


def test_acknowledgement_at_minute_twelve_stops_the_third_step() -> None:
    for minute in (12, 20, 45, 600):
        pages = due_pages(
            POLICY, SCHEDULES, triggered_at=T0, now=T0 + minute * MINUTE,
            acknowledged_at=T0 + 12 * MINUTE, already_sent={(0, 0), (1, 0)},
        )  # fmt: skip
        assert pages == []


def test_acknowledgement_still_lets_a_missed_earlier_page_out() -> None:
    pages = due_pages(
        POLICY, SCHEDULES, triggered_at=T0, now=T0 + 30 * MINUTE, acknowledged_at=T0 + 12 * MINUTE
    )
    assert [p.step_index for p in pages] == [0, 1]


def test_a_page_due_at_the_moment_of_acknowledgement_is_not_sent() -> None:
    pages = due_pages(
        POLICY, SCHEDULES, triggered_at=T0, now=T0 + 10 * MINUTE,
        acknowledged_at=T0 + 10 * MINUTE, already_sent={(0, 0)},
    )  # fmt: skip
    assert pages == []


def test_resolution_stops_everything() -> None:
    repeating = EscalationPolicy("critical", POLICY.steps, repeat=3)
    pages = due_pages(
        repeating, SCHEDULES, triggered_at=T0, now=T0 + 24 * 60 * MINUTE,
        resolved_at=T0 + 5 * MINUTE, already_sent={(0, 0)},
    )  # fmt: skip
    assert pages == []


def test_resolution_before_the_trigger_sends_nothing() -> None:
    assert due_pages(POLICY, SCHEDULES, triggered_at=T0, now=T0, resolved_at=T0) == []


def test_a_late_tick_sends_every_page_it_missed() -> None:
    pages = due_pages(POLICY, SCHEDULES, triggered_at=T0, now=T0 + 25 * MINUTE)
    assert [p.key for p in pages] == [(0, 0), (1, 0), (2, 0)]


def test_repeat_cycles_the_policy_n_more_times() -> None:
    policy = EscalationPolicy("critical", POLICY.steps, repeat=2, repeat_delay_minutes=30)
    plan = escalation_plan(policy, SCHEDULES, triggered_at=T0)
    assert [p.key for p in plan] == [(i, r) for r in range(3) for i in range(3)]
    assert [(p.at - T0) // MINUTE for p in plan] == [0, 10, 20, 50, 60, 70, 100, 110, 120]
    assert plan[3].users == ("ben",)  # the second cycle pages whoever is on call then
    sent = {p.key for p in plan[:4]}
    due = due_pages(policy, SCHEDULES, triggered_at=T0, now=T0 + 65 * MINUTE, already_sent=sent)
    assert [p.key for p in due] == [(1, 1)]


def test_users_are_paged_once_per_step_and_empty_schedules_are_reported() -> None:
    office = Schedule(
        "office", "UTC",
        (Layer(("eve",), Rotation.parse("weekly"), date(2026, 1, 5), time(9),
               (Restriction(time(9), time(17)),)),),
    )  # fmt: skip
    schedules = {**SCHEDULES, "office": office}
    policy = EscalationPolicy("p", (_step(0, "schedule:primary", "user:ana", "schedule:office"),))
    (page,) = escalation_plan(policy, schedules, triggered_at=datetime(2026, 1, 6, 3, tzinfo=UTC))
    assert page.users == ("ana",)
    assert page.unstaffed == ("office",)


def test_escalation_plan_refuses_an_unknown_schedule() -> None:
    with pytest.raises(InvalidInputError) as info:
        escalation_plan(POLICY, {"primary": SCHEDULES["primary"]}, triggered_at=T0)
    assert info.value.field == "steps[1].targets[0]"


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Target.parse("pager:ana"), "target"),
        (lambda: Target.parse("user:"), "target"),
        (lambda: _step(-1, "user:ana"), "delay_minutes"),
        (lambda: _step(0), "targets"),
        (lambda: EscalationPolicy("p", ()), "steps"),
        (lambda: EscalationPolicy("p", POLICY.steps, repeat=-1), "repeat"),
        (lambda: EscalationPolicy("p", (_step(0, "user:ana"),), repeat=1,
                                  repeat_delay_minutes=0), "repeat_delay_minutes"),
    ],
)  # fmt: skip
def test_invalid_policy_parts_name_the_field(make: object, field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        make()  # type: ignore[operator]
    assert info.value.field == field


def test_policies_from_config_reads_a_policy() -> None:
    raw = {"critical": {"repeat": 1, "repeat_delay_minutes": 15, "steps": [
        {"targets": ["schedule:primary"]},
        {"delay_minutes": 10, "targets": ["schedule:secondary", "user:eve"]},
        {"delay_minutes": 10, "targets": ["channel:ml-team"]},
    ]}}  # fmt: skip
    policy = policies_from_config(raw, SCHEDULES)["critical"]
    assert policy.repeat == 1
    assert policy.repeat_delay_minutes == 15
    assert policy.steps[1] == EscalationStep(
        10, (Target("schedule", "secondary"), Target("user", "eve"))
    )


def test_policies_from_config_reports_every_problem_with_its_path() -> None:
    raw = {
        "critical": {"steps": [
            {"delay_minutes": 0, "targets": ["schedule:primary", "schedule:tertiary"]},
            {"delay_minutes": -5, "targets": ["pager:ana"]},
        ]},
        "low": {"steps": [{"delay_minutes": 0, "targets": ["user:eve"]}], "repeat": -1},
        "both": {"steps": [{"targets": "user:eve"}], "repeat": "often"},
        "typo": {"step": []},
    }  # fmt: skip
    with pytest.raises(InvalidInputError) as info:
        policies_from_config(raw, SCHEDULES)
    assert info.value.field == "escalation_policies.critical.steps[0].targets[1]"
    message = str(info.value)
    assert "unknown schedule 'tertiary'; known: primary, secondary" in message
    for path in ("critical.steps[0].targets[1]", "critical.steps[1].targets[0]",
                 "critical.steps[1].delay_minutes", "low.repeat", "both.steps[0].targets",
                 "both.repeat", "typo.step"):  # fmt: skip
        assert f"  escalation_policies.{path}: " in message


def test_policies_from_config_reads_whole_numbers_written_as_text() -> None:
    # The YAML reader passes every scalar as the text written.
    raw = {"critical": {"repeat": "2", "repeat_delay_minutes": "15", "steps": [
        {"delay_minutes": "0", "targets": ["schedule:primary"]},
        {"delay_minutes": "10", "targets": ["channel:ml-team"]},
    ]}}  # fmt: skip
    policy = policies_from_config(raw, SCHEDULES)["critical"]
    assert (policy.repeat, policy.repeat_delay_minutes) == (2, 15)
    assert [step.delay_minutes for step in policy.steps] == [0, 10]


def test_policies_from_config_names_the_field_of_text_that_is_not_a_whole_number() -> None:
    raw = {"critical": {"repeat": "twice", "steps": [
        {"delay_minutes": "10m", "targets": ["user:eve"]},
        {"delay_minutes": "1.5", "targets": ["user:eve"]},
    ]}}  # fmt: skip
    with pytest.raises(InvalidInputError) as info:
        policies_from_config(raw, SCHEDULES)
    assert str(info.value).splitlines()[1:] == [
        "  escalation_policies.critical.steps[0].delay_minutes: must be a whole number; got '10m'",
        "  escalation_policies.critical.steps[1].delay_minutes: must be a whole number; got '1.5'",
        "  escalation_policies.critical.repeat: must be a whole number, 0 or more; got 'twice'",
    ]


def test_escalation_policy_accepts_repeat_delay_zero_for_a_chain_that_starts_over_at_once() -> None:
    chain = EscalationPolicy("chain", POLICY.steps, repeat=1, repeat_delay_minutes=0)
    plan = escalation_plan(chain, SCHEDULES, triggered_at=T0)
    minutes = [int((p.at - T0).total_seconds() // 60) for p in plan]
    assert minutes == [0, 10, 20, 20, 30, 40]  # the second cycle starts with the last step
    assert [(p.step_index, p.repeat) for p in plan][2:4] == [(2, 0), (0, 1)]
