"""SLO window arithmetic against exact counts from raw events.

Raw events are (time, good) pairs; the per-minute counts built from them must give, for
any window of whole minutes, the counts a filter over the raw events gives; merging the
counts of two event sets must equal the counts of their union; and the SLI, burn rate and
budget must be the ratios of those exact counts.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpulse.core.slo import (
    MINUTE,
    MinuteCounts,
    budget_remaining,
    burn_rate,
    sli,
    slo_status,
    time_to_exhaustion,
)

BASE = 1_800_000_000.0  # a minute boundary (epoch seconds)
SPAN_MINUTES = 240
Events = list[tuple[float, bool]]

events = st.lists(
    st.tuples(
        st.floats(min_value=BASE, max_value=BASE + SPAN_MINUTES * MINUTE - 1e-3),
        st.booleans(),
    ),
    max_size=200,
)
minute_edges = st.integers(min_value=-10, max_value=SPAN_MINUTES + 10).map(
    lambda m: BASE + m * MINUTE
)
objectives = st.sampled_from([0.9, 0.95, 0.99, 0.995, 0.999, 0.9999])


def counts_of(raw: Events, *, start: float = BASE) -> MinuteCounts:
    """Per-minute counts of ``raw``, from ``start`` to the minute of the last event."""
    if not raw:
        return MinuteCounts.empty(start)
    minutes = np.array([int((t - start) // MINUTE) for t, _ in raw])
    size = int(minutes.max()) + 1
    total = np.bincount(minutes, minlength=size)
    good = np.bincount(minutes, weights=[float(g) for _, g in raw], minlength=size)
    return MinuteCounts.from_arrays(start, good=good.astype(np.int64), total=total)


def exact(raw: Events, start: float, end: float) -> tuple[int, int]:
    """(good, total) of the events whose minute starts in [start, end), by filtering."""
    inside = [g for t, g in raw if start <= BASE + (t - BASE) // MINUTE * MINUTE < end]
    return sum(inside), len(inside)


@settings(max_examples=200, deadline=None)
@given(events, minute_edges, minute_edges)
def test_minute_counts_sums_equal_raw_event_counts_over_any_window(
    raw: Events, a: float, b: float
) -> None:
    start, end = min(a, b), max(a, b)
    assert counts_of(raw).sums(start, end) == exact(raw, start, end)


@settings(max_examples=200, deadline=None)
@given(events, events, minute_edges, minute_edges)
def test_minute_counts_merge_equals_counts_of_the_union(
    first: Events, second: Events, a: float, b: float
) -> None:
    start, end = min(a, b), max(a, b)
    # The second set's counts start later, so merging must align minutes.
    later = [(t, g) for t, g in second if t >= BASE + 30 * MINUTE]
    merged = counts_of(first) + counts_of(later, start=BASE + 30 * MINUTE)
    assert merged.sums(start, end) == exact(first + later, start, end)
    assert (counts_of(later) + counts_of(first)).sums(start, end) == merged.sums(start, end)


@settings(max_examples=200, deadline=None)
@given(events, minute_edges, objectives)
def test_slo_status_ratios_equal_ratios_of_raw_counts(
    raw: Events, now: float, objective: float
) -> None:
    counts = counts_of(raw)
    period = (BASE, BASE + SPAN_MINUTES * MINUTE)
    status = slo_status(counts, now=now, objective=objective, period=period, windows=[])
    good, total = exact(raw, BASE, min(now, period[1]))
    assert (status.good, status.total) == (good, total)
    if total:
        assert math.isclose(status.sli, good / total)
        assert math.isclose(
            status.budget_remaining, 1 - ((total - good) / total) / (1 - objective), abs_tol=1e-9
        )
    else:
        assert math.isnan(status.sli) and status.budget_remaining == 1.0
    g, t = exact(raw, now - 3600.0, now)
    expected = ((t - g) / t) / (1 - objective) if t else 0.0
    assert math.isclose(status.burn_rates[3600.0], expected, rel_tol=1e-9)


@given(st.integers(0, 10_000), st.integers(0, 10_000), objectives)
def test_budget_remaining_is_one_minus_the_periods_burn_rate(
    bad: int, extra: int, objective: float
) -> None:
    total = bad + extra
    assert math.isclose(
        budget_remaining(bad=bad, total=total, objective=objective),
        1.0 - burn_rate(bad=bad, total=total, objective=objective),
    )
    if total:
        assert sli(good=extra, total=total) == extra / total
    else:
        assert math.isnan(sli(good=0, total=0))


@given(st.floats(0.0, 1.0), st.floats(0.01, 1000.0))
def test_time_to_exhaustion_spends_the_remaining_budget_at_that_burn(
    remaining: float, rate: float
) -> None:
    period = 30 * 86400.0
    seconds = time_to_exhaustion(remaining=remaining, rate=rate, period_s=period)
    # Burning at `rate` for `seconds` spends rate * seconds / period of the budget.
    assert math.isclose(rate * seconds / period, remaining if remaining > 0 else 0.0, abs_tol=1e-12)
