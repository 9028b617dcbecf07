"""Windows of minute profiles, merged once and cached across evaluator ticks.

A one-hour window moves by one minute a tick, so almost all of it was merged the tick
before. The reader keeps, per (model, version), merged *blocks* of
:data:`BLOCK_MINUTES` aligned minutes, each with the fingerprint of the rows it was
made of (:meth:`~mlpulse.ports.SeriesStore.profile_index`: rows and bytes per minute,
read without the profiles). A window is then the merge
of the blocks it covers (kept while they are unchanged) and the few minutes at its
edges; a block is re-read only when its rows changed (a late partial row, another
collector's flush). Within one tick, every monitor asking for the
same window gets the same merged profiles.

Blocks older than the longest window asked for in the last :data:`KEEP_TICKS` ticks'
reach are dropped, so memory stays bounded by models × versions × windows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlpulse.core.profiles.window import WindowProfile
from mlpulse.domain.series import MinuteProfile
from mlpulse.ports import SeriesStore
from mlpulse.services.windows import MINUTE, merge_profiles

BLOCK_MINUTES = 10
BLOCK = BLOCK_MINUTES * MINUTE
# Cached blocks and minutes unused for this long are dropped (several ticks' worth).
STALE_S = 300.0

# segment key ("" or the segment's JSON) → merged profile of those rows
Segments = dict[str, WindowProfile]


@dataclass(slots=True)
class _Block:
    fingerprint: tuple[tuple[float, int, int], ...]
    segments: Segments
    used_at: float


def _by_segment(rows: Sequence[MinuteProfile]) -> Segments:
    groups: dict[str, list[MinuteProfile]] = {}
    for row in rows:
        groups.setdefault(row.segment, []).append(row)
    return {segment: _merged(group) for segment, group in groups.items()}


def _merged(rows: Sequence[MinuteProfile]) -> WindowProfile:
    """The merge of one segment's rows; one row (an edge minute, every tick) is its
    profile as decoded: merge_all would copy it once more through bytes, the same content."""
    if len(rows) == 1:
        profile = WindowProfile.from_bytes(rows[0].profile)
        if profile.requests:
            return profile
    return merge_profiles(rows)


def _merge_segments(parts: Sequence[Segments]) -> Segments:
    groups: dict[str, list[WindowProfile]] = {}
    for part in parts:
        for segment, profile in part.items():
            groups.setdefault(segment, []).append(profile)
    return {segment: WindowProfile.merge_all(profiles) for segment, profiles in groups.items()}


class WindowReader:
    """Merged windows per raw segment; call :meth:`new_tick` at the start of each tick."""

    def __init__(self, series: SeriesStore) -> None:
        self._series = series
        self._blocks: dict[tuple[str, str, float], _Block] = {}
        self._minute_cache: dict[tuple[str, str, float], _Block] = {}
        Entries = tuple[tuple[float, int, int], ...]
        self._suffixes: dict[
            tuple[str, str, float], tuple[Entries, dict[float, Segments], float]
        ] = {}
        self._prefixes: dict[tuple[str, str, float], tuple[Entries, Segments, float]] = {}
        # (model, version, first block, end of the last) → the blocks' merge, as _Block
        self._spans: dict[tuple[str, str, float, float], _Block] = {}
        self._tick: dict[tuple[str, str, float, float], Segments] = {}
        self._now = 0.0
        self.blocks_read = 0

    def new_tick(self, now: float) -> None:
        """Forget this tick's windows; drop blocks no window has used for an hour."""
        self._tick.clear()
        self._now = now
        caches: tuple[dict[Any, _Block], ...] = (self._blocks, self._minute_cache, self._spans)
        for cache in caches:
            # A minute or block no window used this tick or the last few is let go.
            stale = [key for key, block in cache.items() if block.used_at < now - STALE_S]
            for key in stale:
                del cache[key]
        for edges in (self._suffixes, self._prefixes):
            for key in [k for k, v in edges.items() if v[-1] < now - STALE_S]:
                del edges[key]

    @property
    def cached_blocks(self) -> int:
        return len(self._blocks)

    def window(self, model: str, version: str, *, start: float, end: float) -> Segments:
        """The merged profile of each segment's rows with minutes in [start, end)."""
        key = (model, version, start, end)
        found = self._tick.get(key)
        if found is None:
            found = self._tick[key] = self._read(model, version, start, end)
        return found

    def _read(self, model: str, version: str, start: float, end: float) -> Segments:
        index = self._series.profile_index(model, start=start, end=end, version=version)
        if not index:
            return {}
        first_block = math.ceil(start / BLOCK) * BLOCK
        last_block = math.floor(end / BLOCK) * BLOCK  # blocks [first, last) lie inside
        parts: list[Segments] = []
        if last_block <= first_block:  # a window inside one block: its minutes
            parts += self._minutes(model, version, [e for e in index if start <= e[0] < end])
            return parts[0] if len(parts) == 1 else _merge_segments(parts)
        parts.append(self._span(model, version, first_block, last_block, index))
        if start < first_block:  # the tail of the block before: a cached suffix
            tail = tuple(e for e in index if start <= e[0] < first_block)
            parts.append(self._suffix(model, version, first_block - BLOCK, start, tail))
        head = tuple(e for e in index if last_block <= e[0] < end)
        if head:  # the open block so far: a cached prefix, grown by the new minutes
            parts.append(self._prefix(model, version, last_block, head))
        parts = [part for part in parts if part]
        if not parts:
            return {}
        return parts[0] if len(parts) == 1 else _merge_segments(parts)

    def _span(
        self,
        model: str,
        version: str,
        first_block: float,
        last_block: float,
        index: Sequence[tuple[float, int, int]],
    ) -> Segments:
        """The merge of the whole blocks in [first_block, last_block), kept while none of
        them changes: a sliding window covers the same blocks for ``BLOCK_MINUTES`` ticks,
        so a tick merges this span, one suffix and one prefix instead of every block."""
        inside = tuple(e for e in index if first_block <= e[0] < last_block)
        key = (model, version, first_block, last_block)
        cached = self._spans.get(key)
        if cached is None or cached.fingerprint != inside:
            parts = []
            for block_start in range_of(first_block, last_block, BLOCK):
                fingerprint = tuple(e for e in inside if block_start <= e[0] < block_start + BLOCK)
                if fingerprint:
                    parts.append(self._block(model, version, block_start, fingerprint))
            parts = [part for part in parts if part]
            merged = parts[0] if len(parts) == 1 else _merge_segments(parts) if parts else {}
            cached = self._spans[key] = _Block(inside, merged, self._now)
        else:  # the blocks stay cached for the next span, which reuses all but one
            for block_start in range_of(first_block, last_block, BLOCK):
                block = self._blocks.get((model, version, block_start))
                if block is not None:
                    block.used_at = self._now
        cached.used_at = self._now
        return cached.segments

    def _suffix(
        self,
        model: str,
        version: str,
        block_start: float,
        start: float,
        tail: tuple[tuple[float, int, int], ...],
    ) -> Segments:
        """The merge of the block's minutes from ``start`` on (``tail``: their index
        entries). All suffixes of a block are made at once, backwards (one merge each), and
        kept while the block is unchanged: a sliding window's start edge is one of them
        every tick. While the minutes from ``start`` on are those the suffixes were made
        of, the block's index is not even read again."""
        key = (model, version, block_start)
        cached = self._suffixes.get(key)
        if cached is not None and tuple(e for e in cached[0] if e[0] >= start) == tail:
            self._suffixes[key] = (cached[0], cached[1], self._now)
            return next((cached[1][m] for m, *_ in tail), {})
        index = tuple(
            self._series.profile_index(
                model, start=block_start, end=block_start + BLOCK, version=version
            )
        )
        if cached is None or cached[0] != index:
            suffixes: dict[float, Segments] = {}
            running: Segments = {}
            minutes = self._minutes(model, version, list(index))
            for entry, segments in zip(reversed(index), reversed(minutes), strict=True):
                running = _merge_segments([segments, running]) if running else segments
                suffixes[entry[0]] = running
            cached = self._suffixes[key] = (index, suffixes, self._now)
        else:
            self._suffixes[key] = (cached[0], cached[1], self._now)
        return next((cached[1][m] for m, *_ in index if m >= start), {})

    def _prefix(
        self, model: str, version: str, block_start: float, head: tuple[tuple[float, int, int], ...]
    ) -> Segments:
        """The merge of the open block's minutes so far, grown from last tick's prefix."""
        key = (model, version, block_start)
        cached = self._prefixes.get(key)
        if cached is not None and head[: len(cached[0])] == cached[0]:
            known, merged = cached[0], cached[1]
            new = list(head[len(known) :])
            if new:
                merged = _merge_segments([merged, *self._minutes(model, version, new)])
        else:
            minutes = self._minutes(model, version, list(head))
            merged = minutes[0] if len(minutes) == 1 else _merge_segments(minutes)
        self._prefixes[key] = (head, merged, self._now)
        return merged

    def _minutes(
        self, model: str, version: str, entries: list[tuple[float, int, int]]
    ) -> list[Segments]:
        """The edge minutes of a window, each decoded once and kept while it is used."""
        stale = [
            e for e in entries
            if (cached := self._minute_cache.get((model, version, e[0]))) is None
            or cached.fingerprint != (e,)
        ]  # fmt: skip
        if stale:
            rows = self._series.read_profiles(
                model, start=stale[0][0], end=stale[-1][0] + MINUTE, version=version
            )
            by_minute: dict[float, list[MinuteProfile]] = {}
            for row in rows:
                by_minute.setdefault(row.minute, []).append(row)
            for entry in entries:
                if entry in stale or (model, version, entry[0]) not in self._minute_cache:
                    self._minute_cache[(model, version, entry[0])] = _Block(
                        (entry,), _by_segment(by_minute.get(entry[0], [])), self._now
                    )
        found = []
        for entry in entries:
            cached = self._minute_cache[(model, version, entry[0])]
            cached.used_at = self._now
            found.append(cached.segments)
        return found

    def _block(
        self,
        model: str,
        version: str,
        block_start: float,
        fingerprint: tuple[tuple[float, int, int], ...],
    ) -> Segments:
        key = (model, version, block_start)
        cached = self._blocks.get(key)
        if cached is None or cached.fingerprint != fingerprint:
            rows = self._series.read_profiles(
                model, start=block_start, end=block_start + BLOCK, version=version
            )
            cached = self._blocks[key] = _Block(fingerprint, _by_segment(rows), self._now)
            self.blocks_read += 1
        cached.used_at = self._now
        return cached.segments


def range_of(start: float, stop: float, step: float) -> list[float]:
    """``start, start + step, ...`` below ``stop`` (floats, without drift).

    >>> range_of(0.0, 1800.0, 600.0)
    [0.0, 600.0, 1200.0]
    """
    return [start + i * step for i in range(round((stop - start) / step))]
