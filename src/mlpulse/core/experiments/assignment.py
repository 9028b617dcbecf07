"""Deterministic assignment of a unit (user, session, request key) to a variant.

Two schemes live here:

* **Ours**, versioned. :func:`bucket` maps ``(experiment, unit)`` to one of
  ``BUCKETS = 10000`` buckets; :func:`bucket_ranges` gives each variant a fixed slot of
  buckets, of which the first ``coverage`` share is in use; :func:`assign` combines them.
  Hash version 1 is blake2b (8-byte digest) of the UTF-8 text ``f"{experiment}:{unit}"``,
  read big-endian, modulo 10000 (the modulo bias, 2⁶⁴ mod 10⁴ / 2⁶⁴ ≈ 3·10⁻¹⁶, is nil).
  Version 1 never changes; a different function gets a new version number.
* **GrowthBook-compatible**: :func:`fnv1a32`, :func:`growthbook_hash` (hash versions 1
  and 2), :func:`get_bucket_ranges`, :func:`choose_variation`, :func:`in_namespace`,
  checked against the cross-SDK test cases of growthbook/growthbook
  (``packages/sdk-js/test/cases.json``), so a unit lands in the same variant as it would
  in a GrowthBook SDK.

Growing an experiment (ours, and GrowthBook's ranges too): variant *i* owns the slot
``[S_i, S_i + W_i)`` where ``S_i`` and ``W_i`` come from the cumulative weights only, and
at coverage *c* it serves the buckets ``[S_i, S_i + floor(c · W_i))``. Raising the
coverage only appends buckets at the end of each variant's range, so every unit already
enrolled keeps its variant and new units join. Changing the weights, the order or the
number of variants moves slot edges and so moves units: start a new experiment name
(a new hash salt) for that.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from mlpulse.errors import parameter_error

__all__ = [
    "BUCKETS",
    "assign",
    "bucket",
    "bucket_ranges",
    "choose_variation",
    "fnv1a32",
    "get_bucket_ranges",
    "get_equal_weights",
    "growthbook_hash",
    "in_namespace",
]

BUCKETS = 10_000
_VERSIONS = (1,)


def bucket(experiment: str, unit: str, *, version: int = 1) -> int:
    """The bucket in ``[0, BUCKETS)`` of ``unit`` in ``experiment``, by hash ``version``.

    >>> bucket("checkout-button", "user-42")
    8099
    """
    if version not in _VERSIONS:
        raise parameter_error("version", "bucket", f"one of {list(_VERSIONS)}", version)
    for name, value in (("experiment", experiment), ("unit", unit)):
        if not isinstance(value, str):
            raise parameter_error(name, "bucket", "a str", value)
    digest = hashlib.blake2b(f"{experiment}:{unit}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def bucket_ranges(weights: Sequence[float], *, coverage: float = 1.0) -> list[tuple[int, int]]:
    """Per variant, the half-open bucket range ``[start, stop)`` it serves.

    Slot edges are ``round(BUCKETS · cumulative weight / total weight)``; a variant serves
    the first ``floor(coverage · slot width)`` buckets of its slot (see the module notes:
    ranges only grow with ``coverage``, and never move).

    >>> bucket_ranges([1, 1], coverage=0.5)
    [(0, 2500), (5000, 7500)]
    >>> bucket_ranges([1, 1], coverage=1.0)
    [(0, 5000), (5000, 10000)]
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.size == 0 or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise parameter_error("weights", "bucket_ranges", "non-negative floats, sum > 0", weights)
    if not isinstance(coverage, int | float) or not 0 <= coverage <= 1:
        raise parameter_error("coverage", "bucket_ranges", "a float in [0, 1]", coverage)
    edges = [0, *(round(BUCKETS * c) for c in np.cumsum(w) / w.sum())]
    # The 1e-9 keeps 0.29 · 10000 = 2899.9999999999995 at 2900; floor stays monotone.
    return [(a, a + math.floor(coverage * (b - a) + 1e-9)) for a, b in itertools.pairwise(edges)]


def assign(
    experiment: str,
    unit: str,
    weights: Mapping[str, float],
    *,
    coverage: float = 1.0,
    version: int = 1,
) -> str | None:
    """The variant of ``unit``, or None when its bucket is outside the covered ranges.

    ``weights`` maps variant names to weights, in slot order (a dict keeps its order).

    >>> assign("checkout-button", "user-42", {"control": 0.5, "treatment": 0.5})
    'treatment'
    >>> assign("checkout-button", "user-42", {"control": 0.5, "treatment": 0.5}, coverage=0.1)
    """
    if not isinstance(weights, Mapping) or not weights:
        raise parameter_error(
            "weights", "assign", "a non-empty mapping of variant to weight", weights
        )
    b = bucket(experiment, unit, version=version)
    ranges = bucket_ranges(list(weights.values()), coverage=coverage)
    for name, (start, stop) in zip(weights, ranges, strict=True):
        if start <= b < stop:
            return name
    return None


# --- GrowthBook-compatible hashing and bucketing -------------------------------------------


def fnv1a32(text: str, *, unit: Literal["utf16", "codepoint", "utf8"] = "utf16") -> int:
    """32-bit FNV-1a (Fowler, Noll & Vo; IETF draft-eastlake-fnv) of ``text``.

    What is XOR-ed in per step differs between tools, so it is a parameter: ``"utf16"``
    (the default) uses UTF-16 code units like GrowthBook's JavaScript SDK
    (``str.charCodeAt``), the reference for ``cases.json``; ``"codepoint"`` uses code
    points like GrowthBook's Python SDK (``ord``); ``"utf8"`` uses UTF-8 bytes, the
    textbook FNV-1a. All three agree on ASCII; the first two on any text without
    characters beyond U+FFFF (emoji, some CJK).

    >>> hex(fnv1a32("a")), hex(fnv1a32("foobar"))
    ('0xe40c292c', '0xbf9cf968')
    """
    if not isinstance(text, str):
        raise parameter_error("text", "fnv1a32", "a str", text)
    if unit == "utf16":
        codes: Sequence[int] = np.frombuffer(text.encode("utf-16-le"), dtype="<u2").tolist()
    elif unit == "codepoint":
        codes = [ord(ch) for ch in text]
    elif unit == "utf8":
        codes = text.encode()
    else:
        raise parameter_error("unit", "fnv1a32", "'utf16', 'codepoint' or 'utf8'", unit)
    h = 0x811C9DC5
    for code in codes:
        h = ((h ^ code) * 0x01000193) & 0xFFFFFFFF
    return h


def growthbook_hash(seed: str, value: str, version: int) -> float | None:
    """GrowthBook's hash of ``value`` with ``seed`` into [0, 1); None for an unknown version.

    Version 1 is ``(fnv1a32(value + seed) % 1000) / 1000``; version 2 is
    ``(fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000``, GrowthBook's fix for the
    correlation between experiments that version 1 had. An unknown version gives None
    (the SDKs then skip the experiment), as in ``cases.json``.

    >>> growthbook_hash("", "a", 1), growthbook_hash("seed", "a", 2), growthbook_hash("", "a", 99)
    (0.22, 0.0505, None)
    """
    if version == 1:
        return (fnv1a32(value + seed) % 1000) / 1000
    if version == 2:
        return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000
    return None


def get_equal_weights(n_variations: int) -> list[float]:
    """GrowthBook's ``getEqualWeights``: ``n`` weights of ``1/n`` (none for ``n <= 0``).

    >>> get_equal_weights(4)
    [0.25, 0.25, 0.25, 0.25]
    """
    return [1.0 / n_variations] * n_variations if n_variations > 0 else []


def get_bucket_ranges(
    n_variations: int, coverage: float = 1.0, weights: Sequence[float] | None = None
) -> list[tuple[float, float]]:
    """GrowthBook's ``getBucketRanges``: ``[start, start + coverage · w)`` per variation.

    As in the SDKs, ``coverage`` is clipped to [0, 1], and equal weights replace
    ``weights`` that are missing, of the wrong length, or sum outside [0.99, 1.01].

    >>> get_bucket_ranges(2, 0.5)
    [(0.0, 0.25), (0.5, 0.75)]
    """
    coverage = min(max(float(coverage), 0.0), 1.0)
    equal = get_equal_weights(n_variations)
    w = list(weights) if weights is not None else equal
    if len(w) != n_variations or not 0.99 <= sum(w) <= 1.01:
        w = equal
    ranges, cumulative = [], 0.0
    for weight in w:
        ranges.append((cumulative, cumulative + coverage * weight))
        cumulative += weight
    return ranges


def choose_variation(n: float, ranges: Sequence[tuple[float, float]]) -> int:
    """GrowthBook's ``chooseVariation``: the index whose ``[start, end)`` holds ``n``, or -1.

    >>> choose_variation(0.4, [(0, 0.25), (0.5, 0.75)])
    -1
    """
    for i, (start, end) in enumerate(ranges):
        if start <= n < end:
            return i
    return -1


def in_namespace(unit: str, namespace: tuple[str, float, float]) -> bool:
    """GrowthBook's ``inNamespace``: whether ``hash("__" + id, unit, 1)`` is in ``[start, end)``.

    >>> in_namespace("1", ("namespace1", 0.4, 1.0))
    True
    """
    name, start, end = namespace
    n = growthbook_hash("__" + name, unit, 1)
    return n is not None and start <= n < end
