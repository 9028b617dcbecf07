from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpulse.domain.oncall_config import schedules_from_config
from mlpulse.domain.schedules import Layer, Override, Restriction, Rotation, Schedule, Shift
from mlpulse.errors import InvalidInputError, ParameterError

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)
JAN_1, MIDNIGHT = date(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC)


def daily(*users: str, start: date, handoff: time = time(9), **options: object) -> Layer:
    return Layer(users, Rotation.parse("daily"), start, handoff, **options)  # type: ignore[arg-type]


def shift_containing(schedule: Schedule, at: datetime) -> Shift:
    (shift,) = [
        s for s in schedule.shifts(at - 3 * 24 * HOUR, at + 3 * 24 * HOUR) if s.start <= at < s.end
    ]
    return shift


def test_on_call_changes_at_the_handoff_minute() -> None:
    schedule = Schedule("primary", "Europe/Berlin", (daily("ana", "ben", start=date(2026, 1, 5)),))
    handoff = datetime(2026, 1, 6, 9, tzinfo=BERLIN)
    assert schedule.on_call(handoff - MINUTE) == "ana"
    assert schedule.on_call(handoff) == "ben"
    assert schedule.on_call(handoff.timestamp()) == "ben"  # epoch seconds work too


def test_on_call_is_nobody_before_the_first_handoff() -> None:
    schedule = Schedule("primary", "UTC", (daily("ana", start=date(2026, 1, 5)),))
    first = datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert schedule.on_call(first - MINUTE) is None
    assert schedule.shifts(first - 2 * HOUR, first + HOUR) == [Shift("ana", first, first + HOUR)]


@pytest.mark.parametrize(
    ("zone", "change", "hours"),
    [
        (BERLIN, date(2026, 3, 29), 23),
        (BERLIN, date(2026, 10, 25), 25),
        (NEW_YORK, date(2026, 3, 8), 23),
        (NEW_YORK, date(2026, 11, 1), 25),
    ],
)
def test_daily_handoff_stays_at_local_wall_clock_when_dst_changes(
    zone: ZoneInfo, change: date, hours: int
) -> None:
    layer = daily("ana", "ben", "cem", start=change - timedelta(days=10))
    schedule = Schedule("primary", zone.key, (layer,))
    before = datetime.combine(change - timedelta(days=1), time(9), tzinfo=zone)
    after = datetime.combine(change, time(9), tzinfo=zone)  # the clocks changed at night
    for handoff in (before, after):
        assert schedule.on_call(handoff - MINUTE) != schedule.on_call(handoff)
    shift = shift_containing(schedule, datetime.combine(change, time(6), tzinfo=zone))
    assert (shift.start, shift.end) == (before, after)
    assert shift.end - shift.start == hours * HOUR
    assert shift.start.astimezone(zone).time() == shift.end.astimezone(zone).time() == time(9)


def test_handoff_in_the_spring_gap_happens_when_the_clocks_would_have_shown_it() -> None:
    layer = daily("ana", "ben", start=date(2026, 3, 28), handoff=time(2, 30))
    schedule = Schedule("night", "Europe/Berlin", (layer,))
    # 02:30 does not exist on 29 March; fold=0 reads it with CET, i.e. 01:30 UTC = 03:30 CEST.
    handoff = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert schedule.on_call(handoff - MINUTE) == "ana"
    assert schedule.on_call(handoff) == "ben"
    assert handoff.astimezone(BERLIN).time() == time(3, 30)


def test_handoff_at_an_ambiguous_time_happens_at_its_first_occurrence() -> None:
    layer = daily("ana", "ben", start=date(2026, 10, 24), handoff=time(2, 30))
    schedule = Schedule("night", "Europe/Berlin", (layer,))
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST; 02:30 CET comes an hour later
    assert schedule.on_call(first - MINUTE) == "ana"
    assert schedule.on_call(first) == "ben"
    assert schedule.on_call(first + HOUR) == "ben"


def test_hour_rotation_counts_elapsed_hours_across_a_dst_change() -> None:
    layer = Layer(("ana", "ben"), Rotation.parse("12h"), date(2026, 3, 28), time(9))
    schedule = Schedule("primary", "Europe/Berlin", (layer,))
    start = datetime(2026, 3, 28, 9, tzinfo=BERLIN).astimezone(UTC)  # so + means elapsed time
    shifts = schedule.shifts(start, start + 36 * HOUR)
    assert [s.end - s.start for s in shifts] == [12 * HOUR] * 3
    assert shifts[2].start.astimezone(BERLIN).time() == time(10)  # 09:00 CET + 24h = 10:00 CEST


def test_weekly_rotation_hands_off_once_a_week() -> None:
    layer = Layer(("ana", "ben"), Rotation.parse("weekly"), date(2026, 1, 5), time(10))
    schedule = Schedule("primary", "America/New_York", (layer,))
    monday = datetime(2026, 1, 12, 10, tzinfo=NEW_YORK)
    assert schedule.on_call(monday - MINUTE) == "ana"
    assert schedule.on_call(monday) == "ben"
    assert schedule.on_call(monday + 7 * 24 * HOUR - MINUTE) == "ben"
    assert schedule.on_call(monday + 7 * 24 * HOUR) == "ana"
    three_weeks = schedule.shifts(monday, monday + 21 * 24 * HOUR)
    assert [s.user for s in three_weeks] == ["ben", "ana", "ben"]


def test_override_in_the_middle_of_a_shift_splits_it() -> None:
    noon, four = datetime(2026, 1, 5, 12, tzinfo=BERLIN), datetime(2026, 1, 5, 16, tzinfo=BERLIN)
    layer = daily("ana", "ben", start=date(2026, 1, 5))
    schedule = Schedule("primary", "Europe/Berlin", (layer,), (Override("dan", noon, four),))
    nine, next_nine = datetime(2026, 1, 5, 9, tzinfo=BERLIN), datetime(2026, 1, 6, 9, tzinfo=BERLIN)
    assert schedule.shifts(nine, next_nine) == [
        Shift("ana", nine, noon),
        Shift("dan", noon, four),
        Shift("ana", four, next_nine),
    ]
    assert (schedule.on_call(noon - MINUTE), schedule.on_call(noon)) == ("ana", "dan")
    assert (schedule.on_call(four - MINUTE), schedule.on_call(four)) == ("dan", "ana")


def test_override_spanning_a_handoff_covers_both_users() -> None:
    handoff = datetime(2026, 1, 6, 9, tzinfo=BERLIN)
    cover = Override("dan", handoff - 2 * HOUR, handoff + 3 * HOUR)
    layer = daily("ana", "ben", start=date(2026, 1, 5))
    schedule = Schedule("primary", "Europe/Berlin", (layer,), (cover,))
    assert schedule.shifts(handoff - 4 * HOUR, handoff + 4 * HOUR) == [
        Shift("ana", handoff - 4 * HOUR, cover.start),
        Shift("dan", cover.start, cover.end),
        Shift("ben", cover.end, handoff + 4 * HOUR),
    ]
    assert schedule.on_call(handoff) == "dan"


def test_override_by_the_user_on_call_merges_into_one_shift() -> None:
    noon = datetime(2026, 1, 5, 12, tzinfo=UTC)
    layer = daily("ana", start=date(2026, 1, 5))
    schedule = Schedule("p", "UTC", (layer,), (Override("ana", noon, noon + HOUR),))
    assert schedule.shifts(noon - HOUR, noon + 2 * HOUR) == [
        Shift("ana", noon - HOUR, noon + 2 * HOUR)
    ]


def test_weekday_daytime_layer_wins_over_the_24_7_layer_only_in_its_window() -> None:
    around_the_clock = daily("ana", "ben", start=date(2026, 1, 1))
    office = Layer(
        ("cem",),
        Rotation.parse("weekly"),
        date(2026, 1, 5),
        time(9),
        (Restriction(time(9), time(17), days=(0, 1, 2, 3, 4)),),
    )
    schedule = Schedule("primary", "Europe/Berlin", (around_the_clock, office))
    friday = datetime(2026, 1, 9, 0, tzinfo=BERLIN)
    assert schedule.on_call(friday + 10 * HOUR) == "cem"
    assert schedule.on_call(friday + 17 * HOUR - MINUTE) == "cem"
    assert schedule.on_call(friday + 17 * HOUR) == "ana"
    assert schedule.on_call(friday + (24 + 10) * HOUR) == "ben"  # Saturday: no office hours
    shifts = schedule.shifts(friday, friday + 4 * 24 * HOUR)  # Friday to Monday
    local = [(s.user, f"{s.start.astimezone(BERLIN):%a %H:%M}") for s in shifts]
    assert local == [
        ("ben", "Fri 00:00"),
        ("cem", "Fri 09:00"),
        ("ana", "Fri 17:00"),
        ("ben", "Sat 09:00"),
        ("ana", "Sun 09:00"),
        ("cem", "Mon 09:00"),
        ("ben", "Mon 17:00"),
    ]


def test_restriction_ending_before_it_starts_runs_past_midnight() -> None:
    nights = Layer(
        ("nia",),
        Rotation.parse("daily"),
        date(2026, 1, 1),
        time(0),
        (Restriction(time(22), time(6)),),
    )
    schedule = Schedule("nights", "UTC", (nights,))
    day = datetime(2026, 1, 6, tzinfo=UTC)
    assert schedule.on_call(day + 23 * HOUR) == "nia"
    assert schedule.on_call(day + 5 * HOUR) == "nia"
    assert schedule.on_call(day + 6 * HOUR) is None
    assert schedule.shifts(day, day + 24 * HOUR) == [
        Shift("nia", day, day + 6 * HOUR),
        Shift("nia", day + 22 * HOUR, day + 24 * HOUR),
    ]


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Schedule("p", "Mars/Olympus", (daily("ana", start=JAN_1),)), "time_zone"),
        (lambda: Schedule("p", "UTC", ()), "layers"),
        (lambda: Layer((), Rotation.parse("daily"), date(2026, 1, 1)), "users"),
        (lambda: Rotation.parse("fortnightly"), "rotation"),
        (lambda: Rotation(0, "days"), "rotation"),
        (lambda: Override("dan", MIDNIGHT + HOUR, MIDNIGHT), "end"),
        (lambda: Override("dan", MIDNIGHT.replace(tzinfo=None), MIDNIGHT + HOUR), "start"),
        (lambda: Restriction(time(9), time(17), days=(7,)), "days"),
    ],
)
def test_invalid_schedule_parts_name_the_field(make: object, field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        make()  # type: ignore[operator]
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_naive_datetimes_are_refused() -> None:
    schedule = Schedule("p", "UTC", (daily("ana", start=date(2026, 1, 1)),))
    with pytest.raises(ParameterError, match="aware datetime"):
        schedule.on_call(datetime(2026, 1, 2, 12))


def test_schedules_from_config_reads_every_part() -> None:
    schedules = schedules_from_config(
        {
            "primary": {
                "time_zone": "Europe/Berlin",
                "layers": [
                    {"users": ["ana", "ben"], "rotation": "daily", "start": "2026-01-05"},
                    {
                        "users": ["cem"],
                        "rotation": "1w",
                        "start": date(2026, 1, 5),
                        "handoff": "10:00",
                        "restrictions": [{"days": "mon-fri", "start": "09:00", "end": "17:00"}],
                    },
                ],
                "overrides": [
                    {
                        "user": "dan",
                        "start": "2026-01-10T12:00:00+01:00",
                        "end": datetime(2026, 1, 10, 18, tzinfo=BERLIN),
                    }
                ],
            },
        }
    )
    primary = schedules["primary"]
    assert primary.layers[1].rotation == Rotation(7, "days")
    assert primary.layers[1].restrictions == (Restriction(time(9), time(17), (0, 1, 2, 3, 4)),)
    assert primary.on_call(datetime(2026, 1, 10, 13, tzinfo=BERLIN)) == "dan"
    assert primary.on_call(datetime(2026, 1, 12, 11, tzinfo=BERLIN)) == "cem"


def test_schedules_from_config_reports_every_problem_with_its_path() -> None:
    raw = {
        "primary": {
            "time_zone": "Europe/Berlin",
            "layers": [
                {"users": ["ana"], "rotation": "fortnightly", "start": "2026-01-05"},
                {"users": [], "rotation": "daily", "start": "5 Jan", "handoff": 540},
            ],
            "overrides": [
                {
                    "user": "dan",
                    "start": "2026-01-10T12:00:00+01:00",
                    "end": "2026-01-10T11:00:00+01:00",
                }
            ],
        },
        "secondary": {
            "time_zone": "Europe/Berlim",
            "layers": [
                {
                    "users": ["eve"],
                    "rotation": "daily",
                    "start": "2026-01-05",
                    "hand_off": "09:00",
                    "restrictions": [{"days": "weekdays", "start": "9:00", "end": "17:00"}],
                }
            ],
        },
    }
    with pytest.raises(InvalidInputError) as info:
        schedules_from_config(raw)
    assert info.value.field == "schedules.primary.layers[0].rotation"
    message = str(info.value)
    for path in (
        "schedules.primary.layers[0].rotation",
        "schedules.primary.layers[1].start",
        "schedules.primary.layers[1].handoff",
        "schedules.primary.overrides[0].end",
        "schedules.secondary.time_zone",
        "schedules.secondary.layers[0].hand_off",
        "schedules.secondary.layers[0].restrictions[0].days",
    ):
        assert f"  {path}: " in message
    assert "quote it: YAML reads an unquoted 9:00 as 540" in message
    assert message.startswith("7 problems:")


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ("mon-fri", (0, 1, 2, 3, 4)),
        ("fri-mon", (4, 5, 6, 0)),
        ("sun", (6,)),
        (["sat", "Sun"], (5, 6)),
    ],
)
def test_restriction_days_read_ranges_and_lists(days: object, expected: tuple[int, ...]) -> None:
    raw = {
        "p": {
            "time_zone": "UTC",
            "layers": [
                {
                    "users": ["ana"],
                    "rotation": "daily",
                    "start": "2026-01-05",
                    "restrictions": [{"days": days, "start": "09:00", "end": "17:00"}],
                }
            ],
        }
    }
    assert schedules_from_config(raw)["p"].layers[0].restrictions[0].days == expected


# --- properties --------------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
layers = st.builds(
    Layer,
    users=st.lists(st.sampled_from(["ana", "ben", "cem"]), min_size=1, max_size=4).map(tuple),
    rotation=st.one_of(
        st.builds(Rotation, st.integers(1, 8), st.just("days")),
        st.builds(Rotation, st.integers(1, 48), st.just("hours")),
    ),
    start=st.dates(date(2025, 10, 1), date(2025, 12, 31)),
    handoff=st.times(),
)
windows = st.tuples(
    st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31)),
    st.integers(1, 30 * 24 * 60),
).map(lambda w: (w[0].replace(tzinfo=UTC), w[0].replace(tzinfo=UTC) + w[1] * MINUTE))


@settings(max_examples=150, deadline=None)
@given(layer=layers, zone=st.sampled_from(ZONES), window=windows)
def test_shifts_of_a_24_7_layer_partition_the_interval(
    layer: Layer, zone: str, window: tuple[datetime, datetime]
) -> None:
    start, end = window
    shifts = Schedule("p", zone, (layer,)).shifts(start, end)
    assert shifts[0].start == start
    assert shifts[-1].end == end
    for before, after in itertools.pairwise(shifts):
        assert before.end == after.start
        assert before.user != after.user
    assert all(s.start < s.end for s in shifts)


@settings(max_examples=150, deadline=None)
@given(
    layer=layers,
    zone=st.sampled_from(ZONES),
    window=windows,
    where=st.floats(0, 1),
    override=st.one_of(st.none(), st.tuples(st.integers(0, 10 * 24 * 60), st.integers(1, 600))),
    office=st.booleans(),
)
def test_on_call_equals_the_shift_containing_the_instant(
    layer: Layer,
    zone: str,
    window: tuple[datetime, datetime],
    where: float,
    override: tuple[int, int] | None,
    office: bool,
) -> None:
    start, end = window
    weekdays = (Restriction(time(9), time(17), (0, 1, 2, 3, 4)),)
    top = (Layer(("oz",), Rotation(1, "days"), date(2025, 12, 1), time(8), weekdays),)
    covers = ()
    if override is not None:
        offset, minutes = override
        covers = (Override("ovid", start + offset * MINUTE, start + (offset + minutes) * MINUTE),)
    schedule = Schedule("p", zone, (layer, *top) if office else (layer,), covers)
    at = start + (end - start) * where
    at = min(at, end - timedelta(microseconds=1))
    containing = [s.user for s in schedule.shifts(start, end) if s.start <= at < s.end]
    assert containing == [schedule.on_call(at)]
