"""How deep a request body nests, found without decoding it.

msgspec decodes nested arrays and objects recursively: a JSON or MessagePack body
nested about 1,000 deep raises ``RecursionError`` (it does not crash, but the
depth at which it raises depends on the stack in use). Every intake refuses bodies
nested deeper than :data:`MAX_DEPTH` with a 400 that names the limit, measured
before decoding by the bounded scans below:

- JSON: strings are cut out (they may hold brackets), the brackets that remain
  become +1/-1 steps and the deepest running sum is the depth (numpy, C speed);
- MessagePack: a small iterative walker over the type bytes (no recursion, no
  values built), which stops as soon as the limit is passed.
"""

from __future__ import annotations

import struct
from typing import Final

import numpy as np

from mlpulse.errors import MalformedBodyError

MAX_DEPTH: Final = 64
"""The deepest nesting of arrays/objects (maps) a request body may have."""

_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPENERS, _CLOSERS = (ord("["), ord("{")), (ord("]"), ord("}"))


def too_deep(limit: int = MAX_DEPTH) -> MalformedBodyError:
    return MalformedBodyError(f"body nests arrays/objects deeper than the limit of {limit} levels")


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (0 for a scalar).

    Only the quotes and brackets are looked at: a bracket counts when an even number
    of unescaped quotes precede it (it is outside every string)."""
    if body.count(b"[") + body.count(b"{") == 0:
        return 0
    text = np.frombuffer(body, dtype=np.uint8)
    is_quote = text == _QUOTE
    marks = np.flatnonzero(
        is_quote
        | (text == _OPENERS[0]) | (text == _OPENERS[1])
        | (text == _CLOSERS[0]) | (text == _CLOSERS[1])
    )  # fmt: skip
    quotes = is_quote[marks]
    if b"\\" in body:  # a quote after an odd run of backslashes is inside a string
        positions = np.arange(len(text), dtype=np.int64)
        # For each position, the last one at or before it that is not a backslash.
        last_other = np.maximum.accumulate(np.where(text != _BACKSLASH, positions, -1))
        before = np.maximum(marks - 1, 0)
        run = np.where(marks > 0, before - last_other[before], 0)
        quotes &= run % 2 == 0
    outside = (np.cumsum(quotes, dtype=np.int64) & 1) == 0
    chars = text[marks]
    steps = np.where(outside & ((chars == _OPENERS[0]) | (chars == _OPENERS[1])), 1, 0)
    steps -= np.where(outside & ((chars == _CLOSERS[0]) | (chars == _CLOSERS[1])), 1, 0)
    return max(0, int(np.cumsum(steps).max()))


def check_json_depth(body: bytes, *, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`MalformedBodyError` (400) if ``body`` nests deeper than ``limit``."""
    # Cheap bound first: a body with at most ``limit`` openers cannot nest deeper.
    if body.count(b"[") + body.count(b"{") > limit and json_depth(body) > limit:
        raise too_deep(limit)


# MessagePack: for each first byte that is not a fixed-size container, the bytes that
# follow it, either fixed (an int) or "a length of N bytes, then that many" (-N).
_SKIP: dict[int, int] = {0xC0: 0, 0xC2: 0, 0xC3: 0}
_SKIP.update({0xC4: -1, 0xC5: -2, 0xC6: -4})  # bin 8/16/32
_SKIP.update({0xC7: -1, 0xC8: -2, 0xC9: -4})  # ext 8/16/32 (one type byte more, below)
_SKIP.update({0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8})
_SKIP.update({0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8})
_SKIP.update({0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17})  # fixext: type + data
_SKIP.update({0xD9: -1, 0xDA: -2, 0xDB: -4})  # str 8/16/32
_LENGTH = {1: struct.Struct(">B"), 2: struct.Struct(">H"), 4: struct.Struct(">I")}
_CONTAINERS = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}  # array/map 16/32


def msgpack_depth(body: bytes, *, stop_after: int = MAX_DEPTH) -> int:
    """The deepest nesting of arrays and maps in a MessagePack value, counted up to
    ``stop_after + 1`` (the walk stops there). A truncated or invalid body ends the
    walk: the decoder reports it."""
    pending: list[int] = []  # items still to read in each open container
    deepest = 0
    pos, end = 0, len(body)
    while pos < end:
        first = body[pos]
        pos += 1
        items = 0
        if first <= 0x7F or first >= 0xE0:  # positive/negative fixint
            pass
        elif first <= 0x8F:
            items = 2 * (first & 0x0F)
        elif first <= 0x9F:
            items = first & 0x0F
        elif first <= 0xBF:
            pos += first & 0x1F
        elif first in _CONTAINERS:
            width, per_entry = _CONTAINERS[first]
            if pos + width > end:
                break
            items = per_entry * _LENGTH[width].unpack_from(body, pos)[0]
            pos += width
        elif first in _SKIP:
            skip = _SKIP[first]
            if skip >= 0:
                pos += skip
            else:
                width = -skip
                if pos + width > end:
                    break
                pos += width + _LENGTH[width].unpack_from(body, pos)[0]
                pos += first in (0xC7, 0xC8, 0xC9)  # the ext type byte
        else:  # 0xC1 is never used: not MessagePack
            break
        if items:
            pending.append(items)
            deepest = max(deepest, len(pending))
            if deepest > stop_after:
                return deepest
            continue
        # One value read: it completes its container, and maybe theirs.
        while pending:
            pending[-1] -= 1
            if pending[-1]:
                break
            pending.pop()
        if not pending:
            break  # the top-level value is complete
    return deepest


def check_msgpack_depth(body: bytes, *, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`MalformedBodyError` (400) if ``body`` nests deeper than ``limit``."""
    if msgpack_depth(body, stop_after=limit) > limit:
        raise too_deep(limit)
