"""Cached window merges equal the merge of every row of the window, as windows slide."""

from __future__ import annotations

import numpy as np

from mlpulse.core.profiles.window import WindowProfile
from mlpulse.domain.series import MinuteProfile
from mlpulse.services.window_reader import WindowReader
from mlpulse.services.windows import merge_profiles
from mlpulse.testing.fakes import InMemorySeriesStore

T0 = 1_767_225_600.0


def _row(minute: float, rng: np.random.Generator, segment: str = "") -> MinuteProfile:
    n = int(rng.integers(1, 20))
    profile = WindowProfile.from_columns(
        {"x": rng.normal(size=n), "c": rng.choice(["a", "b"], n).astype(object)},
        {"x": "numeric", "c": "categorical"},
        latency_ms=rng.gamma(2, 5, n),
    )
    return MinuteProfile("m", "v1", segment, minute, "w", profile.to_bytes())


def test_sliding_windows_match_a_full_merge_also_after_late_rows() -> None:
    rng = np.random.default_rng(0)
    series = InMemorySeriesStore()
    series.append_profiles(
        [_row(T0 + 60 * i, rng, "" if i % 3 else '{"mode":"batch"}') for i in range(180)]
    )
    reader = WindowReader(series)
    for tick in range(60, 181, 7):  # windows of 47 minutes sliding over three hours
        end = T0 + 60 * tick
        start = end - 47 * 60
        if tick == 95:  # a late partial row lands in a cached block
            series.append_profiles([_row(T0 + 60 * 70, rng)])
        reader.new_tick(end)
        got = reader.window("m", "v1", start=start, end=end)
        rows = series.read_profiles("m", start=start, end=end, version="v1")
        for segment in {r.segment for r in rows}:
            expected = merge_profiles([r for r in rows if r.segment == segment])
            mine = got[segment]
            assert mine.requests == expected.requests, (tick, segment)
            assert mine.features["c"].counts() == expected.features["c"].counts()
            assert np.isclose(mine.features["x"].mean, expected.features["x"].mean)
            assert mine.latency.count == expected.latency.count


class _CountingStore(InMemorySeriesStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def read_profiles(  # type: ignore[override]
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> list[MinuteProfile]:
        self.reads += 1
        return super().read_profiles(model, start=start, end=end, version=version)


def test_a_window_sliding_a_minute_a_tick_reads_only_new_minutes_and_sees_late_rows() -> None:
    """The span of whole blocks and the start edge's suffix are kept between ticks; a late
    row in the span, the suffix or the open block is still merged in."""
    rng = np.random.default_rng(1)
    series = _CountingStore()
    series.append_profiles([_row(T0 + 60 * i, rng) for i in range(150)])
    reader = WindowReader(series)
    late = {
        75: 40,
        83: 25,
        97: 96,
        121: 63,
    }  # tick → minute of a late row: span, suffix, prefix, suffix
    for tick in range(60, 150):
        end = T0 + 60 * tick
        start = end - 60 * 60
        if tick in late:
            series.append_profiles([_row(T0 + 60 * late[tick], rng)])
        reader.new_tick(end)
        before = series.reads
        got = reader.window("m", "v1", start=start, end=end)[""]
        if tick > 61 and tick not in late and tick % 10 not in (0, 1):
            assert series.reads - before <= 2, tick  # the new minutes at the two edges
        rows = series.read_profiles("m", start=start, end=end, version="v1")
        expected = merge_profiles(rows)
        assert got.requests == expected.requests, tick
        assert got.features["c"].counts() == expected.features["c"].counts(), tick
        assert np.isclose(got.features["x"].mean, expected.features["x"].mean), tick
