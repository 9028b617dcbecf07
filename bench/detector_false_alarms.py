"""False alarms of the streaming detectors on healthy traffic, and how fast they find a change.

    .venv/bin/python bench/detector_false_alarms.py [--days 2] [--seed 0]   # ~60 s

Healthy latency is lognormal (median 20 ms) on Poisson traffic; errors are Bernoulli.

* **after** — the tests the collector runs (``mlpulse.services.stream_detection``): the
  latency :class:`ExceedanceCUSUM` (one-second blocks) and the error test (quarter-second
  blocks). Two ways to feed them healthy days:

  - *raw*: every call's value is drawn and the detector reads each block with
    ``update_many`` (two simulated days of the headline configuration, ~7 s);
  - *counts*: the warm-up reads raw values; after it the detector compares values with
    its level only, so a block is drawn as its exact distribution — n ~ Poisson, the
    count above the level ~ Binomial(n, P(X > level)) — and fed as that many values
    above and below the level. Same law, a fraction of the time: ``--days`` per seed
    (half that for errors, whose blocks are four times as many).

* **before** — what the collector ran until now: per-event CUSUM on latency, per-event
  Page–Hinkley on errors, in pure Python, over two simulated hours per seed (12 minutes
  at 2,000 calls/s); alarms scaled to a day.

Detection delays: 20 trials each, a change at a random instant 60–70 s in (after the
warm-up), seconds until the first alarm after it, median and max. "No alarm expected"
runs six simulated hours of a stream twice as fast, or with 0.2 % of calls 20× slower.
The canary rows run :class:`CanaryComparison` (as the service does) with a canary taking
10 % or 50 % of 200 calls/s beside its baseline for ``--canary-hours`` per seed, and time
40 canaries of each share 3× slower from their first request. With no alarm in D
days the table shows 0 and the 95 % upper bound of the rate, 3/D a day.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from mlpulse.core.detectors import CUSUM, CanaryComparison, ExceedanceCUSUM, PageHinkley
from mlpulse.services.stream_detection import BASELINE_HOLD_S, _error_test

MEDIAN_MS = 20.0
DAY = 86400.0
Values = NDArray[np.float64]
Stream = Callable[[np.random.Generator, int], Values]
Exceed = Callable[[float], float]  # P(X > level) of the healthy stream


def lognormal(sigma: float, factor: float = 1.0) -> Stream:
    return lambda rng, n: factor * rng.lognormal(np.log(MEDIAN_MS), sigma, n)


def lognormal_exceed(sigma: float) -> Exceed:
    return lambda level: float(stats.norm.sf((np.log(level) - np.log(MEDIAN_MS)) / sigma))


def failures(rate: float) -> Stream:
    return lambda rng, n: (rng.random(n) < rate).astype(np.float64)


def feed_raw(detector: ExceedanceCUSUM, stream: Stream, per_second: float, seconds: float,
             rng: np.random.Generator, step: float, start: float = 0.0) -> int:  # fmt: skip
    """Alarms over ``seconds`` of traffic from ``start``, ``step`` seconds per update_many."""
    alarms = 0
    for hour_start in np.arange(0.0, seconds, 3600.0):
        n_chunks = round(min(3600.0, seconds - hour_start) / step)
        counts = rng.poisson(per_second * step, n_chunks)
        chunks = np.split(stream(rng, int(counts.sum())), np.cumsum(counts)[:-1])
        times = (start + hour_start + np.arange(n_chunks) * step).tolist()
        for t, values in zip(times, chunks, strict=True):
            alarms += detector.update_many(values, t)
    return alarms


def feed_counts(detector: ExceedanceCUSUM, exceed: Exceed, per_second: float, seconds: float,
                rng: np.random.Generator, step: float, start: float) -> int:  # fmt: skip
    """As :func:`feed_raw` on a warm detector, each block drawn as its exceedance count."""
    alarms = 0
    for hour_start in np.arange(0.0, seconds, 3600.0):
        n_chunks = round(min(3600.0, seconds - hour_start) / step)
        times = (start + hour_start + np.arange(n_chunks) * step).tolist()
        ns = rng.poisson(per_second * step, n_chunks)
        level = detector.level
        assert level is not None, "warm the detector up first"
        ks = rng.binomial(ns, exceed(level))
        above, below = level + abs(level) + 1.0, level - abs(level) - 1.0
        for t, n, k in zip(times, ns.tolist(), ks.tolist(), strict=True):
            if detector.update_many(np.repeat([above, below], [k, n - k]), t):
                alarms += 1
                # A restart warms up again on raw values (only after a false alarm).
                share = exceed(level)
                feed_raw(detector, _two_valued(share, above, below), per_second, 60.0, rng, step,
                         t + step)  # fmt: skip
                level = detector.level
                assert level is not None
    return alarms


def _two_valued(share: float, above: float, below: float) -> Stream:
    return lambda rng, n: np.where(rng.random(n) < share, above, below)


def days_of_alarms(
    make: Callable[[], ExceedanceCUSUM], stream: Stream, exceed: Exceed | None,
    per_second: float, days: float, seeds: list[int], step: float,
) -> int:  # fmt: skip
    """Alarms over ``days`` per seed: a minute of raw warm-up, then counts (or raw)."""
    alarms = 0
    for seed in seeds:
        rng, detector = np.random.default_rng(seed), make()
        alarms += feed_raw(detector, stream, per_second, 60.0, rng, step)
        if exceed is None:
            alarms += feed_raw(detector, stream, per_second, days * DAY - 60.0, rng, step, 60.0)
        else:
            alarms += feed_counts(detector, exceed, per_second, days * DAY - 60.0, rng, step, 60.0)
    return alarms


def before_alarms(make: Callable[[], CUSUM | PageHinkley], stream: Stream, per_second: float,
                  seconds: float, seeds: list[int]) -> int:  # fmt: skip
    """Alarms of a per-event detector over ``seconds`` per seed."""
    alarms = 0
    for seed in seeds:
        rng = np.random.default_rng(seed)
        alarms += sum(map(make().update, stream(rng, int(rng.poisson(per_second * seconds)))))
    return alarms


def delays(
    update: Callable[[object, float, float], bool], make: Callable[[], object],
    healthy: Stream, changed: Stream, per_second: float, seed: int,
) -> list[float]:  # fmt: skip
    """Seconds from a change at a random instant 60-70 s in to the first alarm after it."""
    found = []
    for trial in range(20):
        rng = np.random.default_rng(seed * 1000 + trial)
        change_at = 60.0 + 10.0 * rng.random()
        n = int(rng.poisson(per_second * 120))
        times = np.sort(rng.uniform(0.0, 120.0, n))
        values = np.where(times >= change_at, changed(rng, n), healthy(rng, n))
        detector = make()
        found.append(next(
            (t - change_at for t, x in zip(times.tolist(), values.tolist(), strict=True)
             if update(detector, x, t) and t >= change_at),
            np.inf,
        ))  # fmt: skip
    return found


def _after(detector: object, x: float, t: float) -> bool:
    assert isinstance(detector, ExceedanceCUSUM)
    return detector.update(x, t)


def _before(detector: object, x: float, _t: float) -> bool:
    assert isinstance(detector, CUSUM | PageHinkley)
    return detector.update(x)


def canary(seconds: float, seed: int, *, share: float = 0.1,
           slow: float = 1.0) -> tuple[int, float]:  # fmt: skip
    """(alarms, seconds from the canary's first request to the end of the block that
    tipped the first) of a canary taking ``share`` of 200 calls/s from a random instant
    60-61 s in, beside its baseline."""
    rng = np.random.default_rng(seed)
    comparison = CanaryComparison(hold=BASELINE_HOLD_S)
    alarms, first = 0, np.inf
    start = 60.0 + rng.random()
    for second in range(int(seconds)):
        n = int(rng.poisson(200))
        times = second + np.sort(rng.random(n))
        latency = rng.lognormal(np.log(MEDIAN_MS), 1.0, n)
        failed = rng.random(n) < 0.005
        to_canary = (rng.random(n) < share) & (times >= start)
        champion = ~to_canary
        changes = comparison.update_many(
            times[champion], latency=latency[champion], failed=failed[champion]
        )
        changes += comparison.update_many(
            times[to_canary], candidate="v2", latency=slow * latency[to_canary],
            failed=failed[to_canary],
        )  # fmt: skip
        alarms += len(changes)
        if changes and first == np.inf:
            first = changes[0].at + 1.0 - start
    return alarms, first


def _rate(alarms: int, days: float) -> str:
    return f"{alarms / days:,.1f}" if alarms else f"0 (≤ {3 / days:.2g})"


def _delay(values: list[float]) -> str:
    array = np.asarray(values)
    found = array[np.isfinite(array)]
    text = f"{np.median(found):.2f} / {found.max():.2f} s" if len(found) else "none"
    missed = len(array) - len(found)
    return text + (f" ({missed} of {len(array)} missed)" if missed else "")


def _days(days: float) -> str:
    return f"{days:.3g}"


def _row(stream: str, config: str, detector: str, days: float, alarms: int, delay: str) -> None:
    print(f"| {stream} | {config} | {detector} | {_days(days)} | {alarms} | {_rate(alarms, days)} "
          f"| {delay} |", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=2.0, help="simulated days per seed (counts)")
    parser.add_argument("--raw-days", type=float, default=0.3, help="per seed, headline, raw")
    parser.add_argument("--canary-hours", type=float, default=2.5, help="per seed and share")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    seeds = [args.seed, args.seed + 1]
    before_days = len(seeds) * 2 / 24  # two simulated hours per seed
    print("| stream | configuration | detector | simulated days | alarms | alarms/day "
          "| change found after (median / max) |")  # fmt: skip
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for sigma, rate in [(1.0, 200.0), (2.0, 200.0), (1.0, 20.0), (1.0, 2000.0)]:
        config = f"lognormal σ={sigma:g}, {rate:,.0f}/s"
        healthy, slow = lognormal(sigma), lognormal(sigma, 3.0)
        seconds = min(7200.0, 1_440_000 / rate)  # per seed: at most 1.44M events, in Python
        alarms = before_alarms(CUSUM, healthy, rate, seconds, seeds)
        delay = _delay(delays(_before, CUSUM, healthy, slow, rate, args.seed))
        _row("latency", config, "before: CUSUM, per event", len(seeds) * seconds / DAY, alarms,
             f"3×: {delay}")  # fmt: skip
        delay = _delay(delays(_after, ExceedanceCUSUM, healthy, slow, rate, args.seed))
        if (sigma, rate) == (1.0, 200.0):
            alarms = days_of_alarms(ExceedanceCUSUM, healthy, None, rate, args.raw_days, seeds, 1.0)
            _row("latency", config, "after: ExceedanceCUSUM, raw", len(seeds) * args.raw_days,
                 alarms, f"3×: {delay}")  # fmt: skip
        exceed = lognormal_exceed(sigma)
        alarms = days_of_alarms(ExceedanceCUSUM, healthy, exceed, rate, args.days, seeds, 1.0)
        _row("latency", config, "after: ExceedanceCUSUM, counts", len(seeds) * args.days, alarms,
             f"3×: {delay}")  # fmt: skip
    for rate in (0.02, 0.05):
        config = f"errors {rate:.0%}, 200/s"
        healthy, worse = failures(rate), failures(0.30)
        alarms = before_alarms(lambda: PageHinkley(mode="up"), healthy, 200.0, 7200.0, seeds)
        delay = _delay(delays(_before, lambda: PageHinkley(mode="up"), healthy, worse, 200.0,
                              args.seed))  # fmt: skip
        _row("errors", config, "before: Page–Hinkley, per event", before_days, alarms,
             f"→ 30%: {delay}")  # fmt: skip
        delay = _delay(delays(_after, _error_test, healthy, worse, 200.0, args.seed))
        days = args.days / 2  # four blocks a second: the same number of blocks
        alarms = days_of_alarms(_error_test, healthy, lambda _level, r=rate: r, 200.0,
                                days, seeds, 0.25)  # fmt: skip
        _row("errors", config, "after: ExceedanceCUSUM, ¼ s blocks, counts",
             len(seeds) * days, alarms, f"→ 30%: {delay}")  # fmt: skip
    canary_seconds = args.canary_hours * 3600.0
    days = len(seeds) * canary_seconds / DAY
    for share in (0.1, 0.5):
        alarms = sum(canary(canary_seconds, seed, share=share)[0] for seed in seeds)
        found = [canary(75.0, 100 + trial, share=share, slow=3.0)[1] for trial in range(40)]
        late = sum(f > 5.0 for f in found)
        _row("canary", f"{share:.0%} canary, σ=1, 200/s", "CanaryComparison, raw", days, alarms,
             f"3× from its first request: {_delay(found)}, {late} of 40 over 5 s")  # fmt: skip
    print()
    print("| no alarm expected (σ=1, 200/s) | before: CUSUM, alarms in 1 h "
          "| after: ExceedanceCUSUM, alarms in 6 h |")  # fmt: skip
    print("| --- | ---: | ---: |")
    checks: list[tuple[str, Stream]] = [
        ("2× faster", lognormal(1.0, 0.5)),
        ("0.2% of calls 20× slower",
         lambda rng, n: lognormal(1.0)(rng, n) * np.where(rng.random(n) < 0.002, 20.0, 1.0)),
    ]  # fmt: skip
    for name, changed in checks:
        rng = np.random.default_rng(args.seed + 7)
        cusum = CUSUM()  # warmed up on a healthy minute, then the change for an hour
        any(map(cusum.update, lognormal(1.0)(rng, 12_000).tolist()))
        before = sum(map(cusum.update, changed(rng, 720_000).tolist()))
        detector = ExceedanceCUSUM()
        feed_raw(detector, lognormal(1.0), 200.0, 60.0, rng, 1.0)
        after = feed_raw(detector, changed, 200.0, 6 * 3600.0, rng, 1.0, start=60.0)
        print(f"| {name} | {before} | {after} |")
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
