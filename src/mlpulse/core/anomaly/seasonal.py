"""A robust, seasonal, causal anomaly detector for metrics sampled every 5 minutes.

A point's baseline is the median of the values at the same time of week (or day) in
past weeks (days); its scale is a robust spread of past residuals. A point is anomalous
when its robust z-score, or an EWMA of recent z-scores, is above ``sensitivity``. The
method is :class:`AnomalyDetector`'s docstring; :func:`detect` runs it over a series.

Measured (``tests/unit/core/test_anomaly.py``; seeds 0–4, defaults, 5-minute series of
4 weeks with a daily pattern and 1.5% Gaussian noise, events from day 3 on; recall =
labelled events with a flagged point inside, for shifts within 15 minutes of the
start, for trends within 2 hours; precision = alarm episodes (runs of flagged points)
that overlap an event / all episodes):

==============  ==============  ===============  ===========================
scenario        recall          precision        false episodes per day
==============  ==============  ===============  ===========================
spikes          75/75 = 1.00    75/77 = 0.97     0.014
level shifts    60/60 = 1.00    60/66 = 0.91     0.043
slow trends     29/30 = 0.97    30/32 = 0.94     0.014
out of pattern  60/60 = 1.00    60/65 = 0.92     0.036
==============  ==============  ===============  ===========================

On seeds 5–19 (not tuned on): recall 1.00 / 1.00 / 0.96 / 1.00, precision 0.97 / 0.94
/ 0.92 / 0.93. A clean daily + weekly series (weekends 20% lower) raised 11 false
episodes in 175 days (0.063 a day), all in the first week, when only the daily season
exists and the first weekend looks anomalous; none after it (0 in 140 days). A slow
trend (+2% of the level per hour) was first flagged after 95 minutes (median; max 125,
29 of 30 within 2 hours) at 1.5% noise, after 70 (max 100) at 1% noise.

``update`` costs 23 µs a point (CPython 3.11, 10,080 points, best of 3; ``detect`` on
5 weeks: 0.27 s). A detector holds about 100 kB (tracemalloc): 78.5 kB of buffers with
the default ``history_weeks=4``, 143 kB with 8.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlpulse.core.detectors.base import check_float, check_int
from mlpulse.errors import parameter_error

__all__ = ["AnomalyDetector", "AnomalyPoint", "AnomalyResult", "detect"]

Season = Literal["auto", "weekly", "daily", "none"]
_SEASONS = ("auto", "weekly", "daily", "none")
_STEP = 300  # seconds between samples: a timestamp falls in slot floor(ts / _STEP)
_DAY, _WEEK = 288, 2016  # slots
_HALF_WIDTH = 6  # ±30 minutes around the same time of day / week
_DAYS = 7  # trailing days in the daily season
_ROLLING = 24  # slots (2 hours) in the rolling fallback
_MIN_POINTS = 13  # values a season window needs: one period (1 week or 1 day) of history
_MIN_ROLLING = 20  # values the rolling window needs
_RECENT = 36  # slots (3 hours) of recent residuals in the scale
_RESIDUAL_HALF_WIDTH = 12  # ±1 hour around the same time on previous days, for the scale
_MIN_RESIDUALS = 72  # below this, the scale is also at least 1.4826 MAD of the window
_LEVEL_WINDOW = 12  # residuals (1 hour) whose median is the level correction L
_MAD_TO_SIGMA = 1.4826  # 1 / Phi^-1(3/4): MAD -> standard deviation for normal data
_SCORE_CAP = 1e12
_TINY = float(np.finfo(np.float64).tiny)


def _ago(periods: int, period: int, half_width: int) -> NDArray[np.int64]:
    """Slots back from the current one: ±``half_width`` around each of ``periods`` periods."""
    k = np.arange(1, periods + 1)[:, None] * period
    return (k + np.arange(-half_width, half_width + 1)[None, :]).ravel().astype(np.int64)


def _median(values: NDArray[np.float64]) -> float:
    """``np.median`` of a non-empty 1-d array, without its overhead (a third of the cost)."""
    half = values.size // 2
    if values.size % 2:
        return float(np.partition(values, half)[half])
    low, high = np.partition(values, (half - 1, half))[half - 1 : half + 1]
    return float((low + high) / 2.0)


def _detrend(window: NDArray[np.float64], ago: NDArray[np.int64]) -> NDArray[np.float64]:
    """The values carried to the current slot along their Theil–Sen slope (Sen 1968)."""
    upper = np.triu_indices(window.size, 1)
    slopes = (window[:, None] - window[None, :])[upper] / (ago[None, :] - ago[:, None])[upper]
    return window + _median(slopes) * ago


@dataclass(frozen=True, slots=True)
class AnomalyPoint:
    """The decision on one point.

    ``status`` is ``"ok"``, ``"insufficient_data"`` (no window had enough history: no
    alarm, NaN baseline) or ``"missing"`` (a non-finite value). ``season`` is the window
    the baseline came from: ``"weekly"``, ``"daily"``, ``"rolling"`` or ``"none"``.
    ``lower``/``upper`` bound the values a point may take without a spike alarm; a trend
    alarm can flag a point inside them.
    """

    timestamp: float
    value: float
    score: float
    is_anomaly: bool
    baseline: float
    lower: float
    upper: float
    season: str
    status: str


@dataclass(frozen=True, slots=True)
class AnomalyResult:
    """Per-point decisions of :func:`detect`, as read-only arrays in input order.

    ``status`` is ``"ok"`` if at least one point could be judged, else
    ``"insufficient_data"``; ``point_status`` and ``season`` hold the per-point values.
    """

    timestamps: NDArray[np.float64]
    values: NDArray[np.float64]
    score: NDArray[np.float64]
    is_anomaly: NDArray[np.bool_]
    baseline: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    season: tuple[str, ...]
    point_status: tuple[str, ...]
    status: str
    sensitivity: float


class AnomalyDetector:
    r"""Streaming seasonal anomaly detector for one series: ``update(ts, value)`` per point.

    **Baseline.** Timestamps fall in 5-minute slots. :math:`W` holds the stored values
    at the same slot ±30 minutes in each of the ``history_weeks`` previous weeks
    (``season="weekly"``) or the 7 previous days (``"daily"``), and the baseline is
    :math:`b = \operatorname{median}(W) + L` (:math:`L` is 0 but while a level is being
    accepted, below). A window needs 13 values, one period of history; ``"auto"`` takes
    the weekly window when it has them, else the daily one. Without either, the
    baseline is the last 2 hours (20 values needed) carried to the current slot along
    their Theil–Sen slope, so a daily ramp does not lag (``"none"`` always does this);
    this fallback flags spikes and steps only, as it follows trends by design. With
    less history the point is ``insufficient_data`` and never alarms.

    **Scale.** :math:`\hat\sigma = 1.4826\,\operatorname{median}|\rho|` over the past
    residuals :math:`\rho = x - b` (each winsorised to :math:`\pm ks`) of the last 3
    hours and of the same time ±1 hour on the 6 previous days: up to 186 values, so the
    scale is stable and follows a time-of-day pattern in the noise, and the spread of
    the pattern within :math:`W` does not count. With fewer than 72 residuals it is at
    least 1.4826 MAD(:math:`W`) (Rousseeuw & Croux 1993). The scale used is
    :math:`s = \max(\hat\sigma,\ r|b|/k,\ m/k,\ 10^{-9}(|b|+|x|))`, :math:`k` being
    ``sensitivity``, :math:`r` ``min_relative_deviation`` and :math:`m`
    ``min_deviation``: a flat series (MAD 0) alarms only on a deviation above
    :math:`r|b|` and :math:`m`, never on noise or rounding.

    **Decision.** With :math:`z = (x - b)/s` and :math:`e_t = (1-\lambda)e_{t-1} +
    \lambda\,\mathrm{clip}(z, \pm k)` (``trend_smoothing`` :math:`\lambda`), the score
    is :math:`\max(|z|,\ |e|/\sigma_e)`, where :math:`\sigma_e = \sqrt{\lambda/(2-\lambda)}`
    is the EWMA's standard deviation for independent unit-variance :math:`z` (Roberts
    1959), and a point is anomalous iff its score is above :math:`k`. So
    ``sensitivity`` is one threshold, in standard deviations, for spikes and for
    shifts and trends; higher means fewer alarms. The default 5 is a five-sigma event
    (one point in 1.7 million for normal noise): the estimated baseline and scale make
    :math:`z` heavier-tailed than normal, and 5 keeps a clean series under 0.1 false
    episodes a day (measured in the module docstring).

    **No poisoning; accepting a new level.** A flagged point is not stored, so no later
    baseline sees it and an ongoing anomaly stays anomalous. When ``adapt_after``
    seconds of points in a row have been flagged, the episode is taken as the new
    normal: its values are written into the store as observed, :math:`L` becomes the
    median of the last hour of :math:`x - \operatorname{median}(W)`, updated each point,
    and every point is stored. Once the median of those residuals over ``adapt_after``
    is within :math:`s`, the season windows hold the new level and :math:`L` returns to
    0. A permanent shift thus alarms for ``adapt_after`` (6 hours), then rarely.

    **State.** Two float64 ring buffers, 78.5 kB for ``history_weeks=4`` (8,074 slots of
    values and 1,742 of residuals; 143 kB for 8 weeks), and ``adapt_after / 300``
    recent points. A point whose slot is not after the previous point's is judged but
    changes no state; gaps simply leave empty slots.

    Parameters
    ----------
    sensitivity : float, default 5.0
        The threshold :math:`k` on the score, in (0, inf).
    season : {"auto", "weekly", "daily", "none"}, default "auto"
        The season window; each falls back to the rolling one.
    min_relative_deviation : float, default 0.01
        Deviations within this fraction of :math:`|b|` never alarm, in [0, inf). It makes
        decisions depend on the series' offset; set 0 for invariance to ``x * c + d``.
    min_deviation : float, default 0.0
        Deviations within this absolute amount never alarm, in [0, inf).
    trend_smoothing : float, default 0.1
        :math:`\lambda` of the EWMA, in (0, 1].
    adapt_after : float, default 21600 (6 hours)
        Seconds of alarms in a row after which the level is accepted, in [300, inf).
    history_weeks : int, default 4
        Weeks in the weekly window, in [1, inf).

    References
    ----------
    Hochenbaum, J., Vallis, O. S. & Kejariwal, A. (2017). Automatic anomaly detection
    in the cloud via statistical learning. arXiv:1704.07706 (S-H-ESD: a seasonal
    median baseline and MAD-scaled residuals). Rousseeuw, P. J. & Croux, C. (1993).
    Alternatives to the median absolute deviation. *JASA* 88(424), 1273–1283. Sen, P.
    K. (1968). Estimates of the regression coefficient based on Kendall's tau. *JASA*
    63(324), 1379–1389. Roberts, S. W. (1959). Control chart tests based on geometric
    moving averages. *Technometrics* 1(3), 239–250.

    Examples
    --------
    >>> detector = AnomalyDetector()
    >>> points = [detector.update(300.0 * i, 100.0 + i % 3) for i in range(60)]
    >>> any(p.is_anomaly for p in points), points[-1].season
    (False, 'rolling')
    >>> spike = detector.update(300.0 * 60, 180.0)
    >>> spike.is_anomaly, spike.baseline
    (True, 101.0)
    """

    def __init__(
        self,
        *,
        sensitivity: float = 5.0,
        season: Season = "auto",
        min_relative_deviation: float = 0.01,
        min_deviation: float = 0.0,
        trend_smoothing: float = 0.1,
        adapt_after: float = 6 * 3600.0,
        history_weeks: int = 4,
    ) -> None:
        owner = type(self).__name__
        self._k = check_float(sensitivity, "sensitivity", owner, low=0.0, low_open=True)
        if season not in _SEASONS:
            raise parameter_error("season", owner, f"one of {_SEASONS}", season)
        self._season: Season = season
        self._rel = check_float(min_relative_deviation, "min_relative_deviation", owner, low=0.0)
        self._abs = check_float(min_deviation, "min_deviation", owner, low=0.0)
        self._lam = check_float(
            trend_smoothing, "trend_smoothing", owner, low=0.0, high=1.0, low_open=True,
            high_open=False,
        )  # fmt: skip
        adapt = check_float(adapt_after, "adapt_after", owner, low=float(_STEP))
        self._adapt_points = math.ceil(adapt / _STEP)
        weeks = check_int(history_weeks, "history_weeks", owner, low=1)
        self._sigma_e = math.sqrt(self._lam / (2.0 - self._lam))
        self._windows: list[tuple[str, NDArray[np.int64]]] = []
        if season in ("auto", "weekly"):
            self._windows.append(("weekly", _ago(weeks, _WEEK, _HALF_WIDTH)))
        if season in ("auto", "daily"):
            self._windows.append(("daily", _ago(_DAYS, _DAY, _HALF_WIDTH)))
        self._windows.append(("rolling", np.arange(1, _ROLLING + 1, dtype=np.int64)))
        self._residual_ago = np.concatenate(
            [np.arange(1, _RECENT + 1), _ago(_DAYS - 1, _DAY, _RESIDUAL_HALF_WIDTH)]
        )
        self._size = weeks * _WEEK + _HALF_WIDTH + 4
        self._residual_size = int(self._residual_ago.max()) + 2
        self.reset()

    def reset(self) -> None:
        """Forget the history (the parameters stay)."""
        self._values = np.full(self._size, np.nan)
        self._residuals = np.full(self._residual_size, np.nan)
        self._last_slot: int | None = None
        self._level = 0.0
        self._adapted = False
        self._ewma = 0.0
        self._run = 0
        self._recent: deque[tuple[int, float, float]] = deque(maxlen=self._adapt_points)

    def _baseline(self, slot: int) -> tuple[str, float, float]:
        """(season, median, MAD) of the first window with enough values."""
        for name, ago in self._windows:
            window = self._values[(slot - ago) % self._size]
            keep = ~np.isnan(window)
            window = window[keep]
            if name == "rolling":
                if window.size < _MIN_ROLLING:
                    break
                window = _detrend(window, ago[keep])
            elif window.size < _MIN_POINTS:
                continue
            median = _median(window)
            return name, median, _median(np.abs(window - median))
        return "none", math.nan, math.nan

    def _spread(self, slot: int, mad: float) -> float:
        residuals = self._residuals[(slot - self._residual_ago) % self._residual_size]
        residuals = residuals[~np.isnan(residuals)]
        spread = _median(np.abs(residuals)) if residuals.size else 0.0
        return _MAD_TO_SIGMA * (spread if residuals.size >= _MIN_RESIDUALS else max(spread, mad))

    def _advance(self, slot: int) -> None:
        """Clear the cells of the slots skipped since the last point, and this slot's."""
        last = slot - self._size if self._last_slot is None else self._last_slot
        self._last_slot = slot
        for buffer in (self._values, self._residuals):
            if slot == last + 1:
                buffer[slot % buffer.size] = np.nan
            elif slot - last >= buffer.size:
                buffer.fill(np.nan)
            else:
                buffer[np.arange(last + 1, slot + 1) % buffer.size] = np.nan

    def update(self, timestamp: float, value: float) -> AnomalyPoint:
        """Judge one point (epoch seconds, value) from the points before it, then learn it."""
        ts, x = float(timestamp), float(value)
        if not math.isfinite(ts):
            raise parameter_error("timestamp", "AnomalyDetector.update", "finite", timestamp)
        slot = math.floor(ts / _STEP)
        learn = self._last_slot is None or slot > self._last_slot
        nan = math.nan
        if not math.isfinite(x):
            if learn:
                self._advance(slot)
            return AnomalyPoint(ts, x, 0.0, False, nan, nan, nan, "none", "missing")
        season, median, mad = self._baseline(slot)
        if season == "none":
            if learn:
                self._advance(slot)
                self._values[slot % self._size] = x
            return AnomalyPoint(ts, x, 0.0, False, nan, nan, nan, season, "insufficient_data")
        k = self._k
        base = median + self._level
        scale = max(
            self._spread(slot, mad),
            self._rel * abs(base) / k,
            self._abs / k,
            1e-9 * (abs(base) + abs(x)),
            _TINY,
        )
        z = (x - base) / scale
        ewma = (1.0 - self._lam) * self._ewma + self._lam * min(max(z, -k), k)
        trend = abs(ewma) / self._sigma_e if season != "rolling" else 0.0
        score = min(max(abs(z), trend), _SCORE_CAP)
        anomalous = score > k
        half = k * scale
        if learn:
            self._advance(slot)
            self._ewma = ewma
            self._values[slot % self._size] = nan if anomalous and not self._adapted else x
            self._residuals[slot % self._residual_size] = min(max(x - base, -half), half)
            self._learn_level(slot, x, median, anomalous, scale)
        return AnomalyPoint(ts, x, score, anomalous, base, base - half, base + half, season, "ok")

    def _learn_level(
        self, slot: int, x: float, median: float, anomalous: bool, scale: float
    ) -> None:
        """Accept a level after ``adapt_after`` of alarms; drop it once the store has it."""
        self._recent.append((slot, x, x - median))
        self._run = self._run + 1 if anomalous else 0
        if self._run >= self._adapt_points:  # the episode is the new normal: store it as seen
            self._adapted, self._run, self._ewma = True, 0, 0.0
            for past_slot, past_x, _ in self._recent:
                self._values[past_slot % self._size] = past_x
        if self._adapted:
            residuals = np.array([residual for _, _, residual in self._recent])
            self._level = _median(residuals[-_LEVEL_WINDOW:])
            if abs(_median(residuals)) <= scale:  # the store has caught up over adapt_after
                self._adapted, self._level = False, 0.0

    @property
    def sensitivity(self) -> float:
        """The threshold on the score."""
        return self._k

    @property
    def level(self) -> float:
        """The accepted level correction :math:`L` (0.0 unless a shift is being absorbed)."""
        return self._level

    @property
    def memory_bytes(self) -> int:
        """Bytes of the two ring buffers, the state that grows with ``history_weeks``."""
        return int(self._values.nbytes + self._residuals.nbytes)


def detect(
    timestamps: ArrayLike,
    values: ArrayLike,
    *,
    sensitivity: float = 5.0,
    season: Season = "auto",
    min_relative_deviation: float = 0.01,
    min_deviation: float = 0.0,
    trend_smoothing: float = 0.1,
    adapt_after: float = 6 * 3600.0,
    history_weeks: int = 4,
) -> AnomalyResult:
    """Judge every point of a series causally, as :class:`AnomalyDetector` would in a stream.

    The decision at point ``i`` uses only points ``< i`` and point ``i``: each is judged
    by the state the earlier points left, so ``detect`` equals feeding the points one by
    one to ``update`` (a test checks it). The recursion cannot be vectorised across
    points, because whether a point enters the baseline depends on its own decision;
    the work per point (gathering the season window, its median and MAD) is. The keyword
    arguments are those of :class:`AnomalyDetector`.

    Examples
    --------
    >>> ts = [300.0 * i for i in range(40)]
    >>> result = detect(ts, [5.0] * 39 + [9.0])
    >>> result.is_anomaly.nonzero()[0].tolist(), result.status
    ([39], 'ok')
    """
    ts = np.array(timestamps, dtype=np.float64).ravel()  # copies: the result is read-only
    xs = np.array(values, dtype=np.float64).ravel()
    if ts.shape != xs.shape:
        raise parameter_error("values", "detect", f"an array of length {ts.size}", xs.size)
    detector = AnomalyDetector(
        sensitivity=sensitivity,
        season=season,
        min_relative_deviation=min_relative_deviation,
        min_deviation=min_deviation,
        trend_smoothing=trend_smoothing,
        adapt_after=adapt_after,
        history_weeks=history_weeks,
    )
    points = [detector.update(t, x) for t, x in zip(ts.tolist(), xs.tolist(), strict=True)]
    arrays = {
        name: np.array([getattr(p, name) for p in points], dtype=np.float64).reshape(-1)
        for name in ("score", "baseline", "lower", "upper")
    }
    flags = np.array([p.is_anomaly for p in points], dtype=np.bool_).reshape(-1)
    point_status = tuple(p.status for p in points)
    for array in (ts, xs, flags, *arrays.values()):
        array.flags.writeable = False
    return AnomalyResult(
        timestamps=ts,
        values=xs,
        is_anomaly=flags,
        season=tuple(p.season for p in points),
        point_status=point_status,
        status="ok" if "ok" in point_status else "insufficient_data",
        sensitivity=detector.sensitivity,
        **arrays,
    )
