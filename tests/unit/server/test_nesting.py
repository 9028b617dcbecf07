"""Nesting depth of JSON and MessagePack bodies, measured without decoding them,
against the depth of the value msgspec decodes (the oracle) for random values."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpulse.errors import MalformedBodyError
from mlpulse.server.nesting import (
    MAX_DEPTH,
    check_json_depth,
    check_msgpack_depth,
    json_depth,
    msgpack_depth,
)

# Strings full of the characters a scanner could mistake for structure.
_TRICKY = st.text(alphabet='[]{}"\\,:ab\u00e9\n', max_size=8)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TRICKY
    | st.binary(max_size=300)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TRICKY, inner, max_size=4),
    max_leaves=40,
)


def depth(value: Any) -> int:
    """The oracle: nesting of a decoded value; an empty array or map counts as a level."""
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


def nonempty_depth(value: Any) -> int:
    """MessagePack's walker counts only containers that hold something."""
    if isinstance(value, list | dict) and not value:
        return 0
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return (1 + max(nonempty_depth(v) for v in items)) if items else 0


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_json_depth_matches_the_decoded_value(value: Any) -> None:
    body = msgspec.json.encode(value)
    assert json_depth(body) == depth(msgspec.json.decode(body))


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_msgpack_depth_matches_the_decoded_value(value: Any) -> None:
    body = msgspec.msgpack.encode(value)
    assert msgpack_depth(body, stop_after=1000) == nonempty_depth(value)


@pytest.mark.parametrize("n", [MAX_DEPTH + 1, 1_000, 100_000])
def test_check_depth_refuses_bodies_nested_past_the_limit(n: int) -> None:
    with pytest.raises(MalformedBodyError, match=f"limit of {MAX_DEPTH} levels"):
        check_json_depth(b"[" * n + b"]" * n)
    with pytest.raises(MalformedBodyError, match=f"limit of {MAX_DEPTH} levels"):
        check_json_depth(b'{"a":' * n + b"1" + b"}" * n)
    with pytest.raises(MalformedBodyError, match=f"limit of {MAX_DEPTH} levels"):
        check_msgpack_depth(b"\x91" * n + b"\xc0")
    with pytest.raises(MalformedBodyError, match=f"limit of {MAX_DEPTH} levels"):
        check_msgpack_depth(b"\x81\xa1a" * n + b"\x01")


def test_check_depth_accepts_bodies_nested_exactly_to_the_limit() -> None:
    check_json_depth(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    check_msgpack_depth(b"\x91" * (MAX_DEPTH - 1) + b"\x90")
    check_msgpack_depth(b"\xdc\x00\x01" * MAX_DEPTH + b"\x01")


def test_json_depth_ignores_brackets_inside_strings() -> None:
    body = msgspec.json.encode({"a": "[[[[{{{{" * 100, "b": '\\"[[[[' * 100})
    assert json_depth(body) == 1
    check_json_depth(body)


def test_msgpack_depth_stops_at_a_truncated_body() -> None:
    assert msgpack_depth(b"\x92\x91") == 2
    assert msgpack_depth(b"\xdc\x00") == 0
