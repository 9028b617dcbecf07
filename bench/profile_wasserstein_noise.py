"""How far the Wasserstein distance read from two profiles (KLL sketches, k=200) strays
from the exact distance of the same rows, on data that did not change.

    .venv/bin/python bench/profile_wasserstein_noise.py [--seeds 300] [--rows 3000 30000]

For each window size and seed: two N(0,1) samples, scipy's exact W1 (in reference
standard deviations, as the monitors report it) against the profiles' W1. Prints the
share of each above the default warning threshold and their medians and 99th percentiles.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

from mlpulse.core.drift.profiled import _wasserstein
from mlpulse.core.profiles.numeric import NumericProfile

WARNING = 0.1


def _profile(values: np.ndarray) -> NumericProfile:
    profile = NumericProfile()
    profile.update_many(values)
    return profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--rows", type=int, nargs="+", default=[3000, 30000])
    args = parser.parse_args()
    print(f"| rows | exact > {WARNING} | profile > {WARNING} | exact p50 / p99 "
          "| profile p50 / p99 |")  # fmt: skip
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n in args.rows:
        exact, profiled = [], []
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            a, b = rng.normal(size=n), rng.normal(size=n)
            exact.append(stats.wasserstein_distance(a, b) / a.std())
            profiled.append(_wasserstein(_profile(a), _profile(b))[0])
        e, p = np.array(exact), np.array(profiled)
        ep50, ep99 = np.percentile(e, [50, 99])
        pp50, pp99 = np.percentile(p, [50, 99])
        print(f"| {n:,} | {(e > WARNING).mean():.1%} | {(p > WARNING).mean():.1%} "
              f"| {ep50:.3f} / {ep99:.3f} | {pp50:.3f} / {pp99:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
