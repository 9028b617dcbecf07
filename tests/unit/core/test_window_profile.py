"""The window profile: what the aggregator keeps per (model, version, segment, minute)."""

from __future__ import annotations

import numpy as np
import pytest

from mlpulse.core.profiles.window import WindowProfile
from mlpulse.errors import ParameterError

KINDS = {"amount": "numeric", "country": "categorical"}


def _events(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "amount": rng.lognormal(3, 1, n),
        "country": rng.choice(["DE", "FR", "US", "BR"], n).astype(object),
        "prediction": rng.choice(["ok", "fraud"], n).astype(object),
        "score": rng.uniform(size=n),
        "latency_ms": rng.gamma(2, 5, n),
        "errors": rng.uniform(size=n) < 0.03,
    }


def _profile(events: dict[str, np.ndarray], rows: slice = slice(None)) -> WindowProfile:
    return WindowProfile.from_columns(
        {name: events[name][rows] for name in KINDS},
        KINDS,
        prediction=events["prediction"][rows],
        score=events["score"][rows],
        latency_ms=events["latency_ms"][rows],
        errors=events["errors"][rows],
    )


def test_window_profile_partials_of_two_collectors_merge_to_the_profile_of_all_events() -> None:
    events = _events(20_000, seed=1)
    # Collector A took every other request of the minute, collector B the rest.
    order = np.random.default_rng(2).permutation(20_000)
    part_a = {k: v[order[:9_000]] for k, v in events.items()}
    part_b = {k: v[order[9_000:]] for k, v in events.items()}
    a, b = _profile(part_a), _profile(part_b)
    merged = WindowProfile.from_bytes(a.to_bytes()).merge(WindowProfile.from_bytes(b.to_bytes()))
    whole = _profile(events)
    assert (
        (merged.requests, merged.errors)
        == (whole.requests, whole.errors)
        == (
            20_000,
            int(events["errors"].sum()),
        )
    )
    assert merged.features["country"].counts() == whole.features["country"].counts()
    assert merged.outputs["prediction"].counts() == whole.outputs["prediction"].counts()
    for mine, exact in ((merged.features["amount"], events["amount"]),
                        (merged.latency, events["latency_ms"])):  # fmt: skip
        assert mine.count == exact.size
        assert mine.mean == pytest.approx(exact.mean(), rel=1e-12)
        assert mine.variance(ddof=0) == pytest.approx(exact.var(), rel=1e-9)
        # Quantiles within the KLL rank error of the exact ones.
        for q in (0.5, 0.95, 0.99):
            rank = float(np.mean(exact <= mine.quantiles([q])[0]))
            assert abs(rank - q) <= mine.rank_error


def test_window_profile_merge_is_commutative_associative_with_empty_identity() -> None:
    events = _events(3_000, seed=3)
    a, b, c = (_profile(events, slice(i, i + 1_000)) for i in (0, 1_000, 2_000))
    assert a.merge(WindowProfile.empty()) == a == WindowProfile.empty().merge(a)
    left, right = (a + b) + c, a + (b + c)
    assert left.requests == right.requests == 3_000
    assert left.features["country"].counts() == right.features["country"].counts()
    assert (a + b).features["amount"].mean == pytest.approx((b + a).features["amount"].mean)


def test_window_profile_profiles_numeric_predictions_as_numbers() -> None:
    p = WindowProfile.from_columns({}, {}, prediction=[1.5, 2.5, None])
    assert p.outputs.kinds == {"prediction": "numeric"}
    assert p.outputs["prediction"].mean == 2.0 and p.requests == 3
    ranked = WindowProfile.from_columns({}, {}, prediction=[["a", "b"], ["c"]])
    assert "prediction" not in ranked.outputs and ranked.requests == 2


def test_window_profile_profiles_flags_and_mixed_predictions_as_categories() -> None:
    flags = WindowProfile.from_columns({}, {}, prediction=[True, False, None])
    assert flags.outputs.kinds == {"prediction": "categorical"}
    assert flags.outputs["prediction"].counts() == {"True": 1, "False": 1}
    mixed = WindowProfile.from_columns({}, {}, prediction=[1, "fraud", None])
    assert mixed.outputs.kinds == {"prediction": "categorical"}
    ints = WindowProfile.from_columns({}, {}, prediction=[1, 0, 1])
    assert ints.outputs.kinds == {"prediction": "numeric"}
    assert ints.outputs["prediction"].mean == pytest.approx(2 / 3)


def test_window_profile_stays_small_whatever_the_traffic() -> None:
    small, large = _profile(_events(1_000, seed=4)), _profile(_events(200_000, seed=5))
    assert large.size_bytes < 64 * 1024
    assert large.size_bytes < 2 * small.size_bytes + 16 * 1024


def test_window_profile_rejects_bad_counts_and_bytes() -> None:
    with pytest.raises(ParameterError, match="'errors' parameter of WindowProfile"):
        WindowProfile(
            features=WindowProfile.empty().features,
            outputs=WindowProfile.empty().outputs,
            latency=WindowProfile.empty().latency,
            requests=1,
            errors=2,
        )
    with pytest.raises(ParameterError, match=r"WindowProfile\.from_bytes"):
        WindowProfile.from_bytes(b"not a profile")
