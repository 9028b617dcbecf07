"""``mlpulse.report(reference, current)``: a drift report of two datasets.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref = {"amount": rng.normal(size=2000), "country": rng.choice(["DE", "FR"], 2000)}
>>> cur = {"amount": rng.normal(1.0, 1, 2000), "country": rng.choice(["DE", "FR"], 2000)}
>>> r = report(ref, cur)
>>> r.to_dict()["columns"]["amount"]["drifted"], r.to_dict()["columns"]["country"]["drifted"]
(True, False)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from mlpulse.core.drift.categorical import counts as count_categories
from mlpulse.core.drift.check import (
    ColumnCheck,
    ColumnDriftResult,
    DatasetDriftResult,
    Kind,
    dataset_drift,
)
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.quality import QualityResult, column_summaries, quality_checks
from mlpulse.library.frames import DATETIME_REASON, as_kind, columns_of, infer_kind, is_datetime
from mlpulse.library.multivariate import MultivariateCheck, multivariate_checks


@dataclass(frozen=True, slots=True)
class Distribution:
    """What the HTML shows of a column: shares per bin (numeric) or per category."""

    labels: list[str]
    reference: list[float]
    current: list[float]


@dataclass(frozen=True, slots=True)
class Report:
    """A dataset's drift: per column and overall. Build it with :func:`report`."""

    drift: DatasetDriftResult
    quality: Sequence[QualityResult]
    # The compared columns, kept (not copied) so that the charts are computed only when
    # an HTML page is asked for.
    data: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray], Mapping[str, Kind]]
    multivariate: Sequence[MultivariateCheck] = ()
    skipped: Mapping[str, str] = field(default_factory=dict)
    """Columns left out of the checks, with the reason (datetime columns)."""

    @property
    def distributions(self) -> dict[str, Distribution]:
        """Per column, what the HTML page plots: shares per bin or per category."""
        reference, current, kinds = self.data
        return {n: _distribution(reference[n], current[n], k) for n, k in kinds.items()}

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``columns`` (name → drift result), the ``dataset`` verdict,
        ``quality`` (the data-quality checks, worst first) and ``multivariate`` (PCA
        reconstruction and domain classifier, when asked for) and ``skipped`` (column →
        why it was left out)."""
        columns = {name: _column(r) for name, r in self.drift.columns.items()}
        return {
            "skipped": dict(self.skipped),
            "multivariate": [
                {
                    "check": m.check,
                    "value": _number(m.value),
                    "thresholds": {
                        "warning": m.thresholds.warning,
                        "critical": m.thresholds.critical,
                    },
                    "status": m.status.value,
                    "drifted": m.drifted,
                    "columns": list(m.columns),
                    "details": _plain(m.details),
                }
                for m in self.multivariate
            ],
            "quality": [
                {
                    "check": q.check,
                    "column": q.column,
                    "value": _number(q.value),
                    "status": q.status.value,
                    "details": _plain(q.details),
                }
                for q in self.quality
            ],
            "dataset": {
                "drifted": self.drift.drifted,
                "drifted_share": _number(self.drift.drifted_share),
                "status": self.drift.status.value,
                "share_thresholds": {
                    "warning": self.drift.thresholds.warning,
                    "critical": self.drift.thresholds.critical,
                },
                "n_columns": len(columns),
                "n_drifted": sum(c["drifted"] for c in columns.values()),
            },
            "columns": columns,
        }

    def to_json(self) -> str:
        return msgspec.json.encode(self.to_dict()).decode()

    def save_html(self, path: str | Path) -> Path:
        """Write a self-contained HTML page (no scripts, no network) and return its path."""
        from mlpulse.adapters.export.html_report import render_html

        target = Path(path)
        target.write_text(render_html(self.to_dict(), self.distributions), encoding="utf-8")
        return target


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _plain(details: Mapping[str, Any]) -> Any:
    """JSON-shaped data (NaN as null, tuples as lists), so to_dict() == loads(to_json())."""
    return msgspec.json.decode(
        msgspec.json.encode(msgspec.to_builtins(dict(details), str_keys=True))
    )


def _column(result: ColumnDriftResult) -> dict[str, Any]:
    return {
        "kind": result.kind,
        "method": result.method,
        "value": _number(result.value),
        "threshold": result.threshold,
        "thresholds": {
            "warning": result.thresholds.warning,
            "critical": result.thresholds.critical,
        },
        "value_is_p_value": result.p_value,
        "status": result.status.value,
        "drifted": result.drifted,
        "n_reference": result.n_reference,
        "n_current": result.n_current,
        "details": _plain(result.details),
    }


def report(
    reference: Any,
    current: Any,
    *,
    kinds: Mapping[str, Kind] | None = None,
    checks: Mapping[str, ColumnCheck] | None = None,
    importances: Mapping[str, float] | None = None,
    share: Thresholds | None = None,
    quality: bool = True,
    multivariate: bool = False,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    seed: int = 0,
) -> Report:
    """Drift of every column shared by ``reference`` and ``current``.

    ``reference`` and ``current``: pandas or polars DataFrames, pyarrow Tables, mappings
    of column → array, or numpy structured arrays. ``kinds`` overrides the inferred kind
    (numeric, categorical, boolean) of some columns; ``checks`` the method and thresholds
    of some columns; ``importances`` weighs the dataset verdict. Datetime columns are
    left out and listed in ``skipped`` with the reason, unless ``kinds`` names their
    kind (``"numeric"`` compares them as seconds since the epoch). Columns in only one of
    the two datasets are a data-quality matter, not drift: the ``quality`` checks
    report them, with missing values, type errors, out-of-range values, infinities,
    unseen categories, constant columns, cardinality changes and duplicated rows
    (``quality=False`` leaves them out); they cost less than the drift checks (see
    bench/README.md). Infinite numbers are counted by the quality checks and left out
    of drift, like missing ones. ``multivariate=True`` adds PCA reconstruction drift
    and a domain classifier over all compared columns (about 1-3 s more at any size;
    ``seed`` makes them deterministic). Columns are checked in ``workers`` threads
    (default: one per CPU); ``progress(step, done, total)`` hears of each step done
    (``"quality"``, each column's name, ``"multivariate"``).
    """
    ref = columns_of(reference, name="reference")
    cur = columns_of(current, name="current")
    first = {n: ref[n] if n in ref else cur[n] for n in [*ref, *cur]}
    overridden = {n: k for n, k in (kinds or {}).items() if n in first}
    # Datetime columns are the rows' times, not features (see frames.is_datetime): left
    # out unless ``kinds`` names a kind for them (one on one side only is still reported
    # as a column change by the quality checks).
    skipped = {
        n: DATETIME_REASON
        for n, v in first.items()
        if n in ref and n in cur and n not in overridden and is_datetime(v)
    }
    every = {n: infer_kind(v) for n, v in first.items() if n not in skipped} | overridden
    column_kinds: dict[str, Kind] = {n: k for n, k in every.items() if n in ref and n in cur}
    total = len(column_kinds) + quality + multivariate
    # Steps: quality first, then the columns (numbered by dataset_drift, whose calls
    # come from its worker threads), then the multivariate checks.
    step: Callable[[str, int, int], None] = progress or (lambda _name, _done, _total: None)
    summaries = column_summaries(ref, cur, kinds=column_kinds) if quality else {}
    checked = quality_checks(ref, cur, kinds=every, summaries=summaries) if quality else []
    if quality:
        step("quality", 1, total)
    ref = {n: _finite(as_kind(ref[n], k), k) for n, k in column_kinds.items()}
    cur = {n: _finite(as_kind(cur[n], k), k) for n, k in column_kinds.items()}
    # The quality checks counted the categories already: the drift checks reuse the
    # counts rather than hash every value again (half the quality suite's cost).
    counted = {n: pair for n, pair in summaries.items() if pair[0].counts is not None}
    drift_ref: dict[str, Any] = {n: counted[n][0].counts if n in counted else ref[n] for n in ref}
    drift_cur: dict[str, Any] = {n: counted[n][1].counts if n in counted else cur[n] for n in cur}
    options: dict[str, Any] = {
        "checks": checks,
        "importances": importances,
        "workers": workers or os.cpu_count() or 1,
        "progress": lambda column, done, _total: step(column, quality + done, total),
    }
    if share is not None:
        options["share"] = share
    drift = dataset_drift(drift_ref, drift_cur, kinds=column_kinds, **options)
    joint: list[MultivariateCheck] = []
    if multivariate:
        joint = multivariate_checks(ref, cur, column_kinds, seed=seed)
        step("multivariate", total, total)
    return Report(drift, checked, (ref, cur, column_kinds), joint, skipped)


def _finite(values: np.ndarray, kind: Kind) -> np.ndarray:
    """A numeric column with its infinities as NaN (a copy only when it has some).

    Drift compares the finite numbers; the infinities are a data-quality problem, which
    the ``non_finite`` quality check counts, rather than a reason to fail the report.
    """
    if kind != "numeric" or values.dtype.kind != "f":
        return values
    infinite = np.isinf(values)
    return np.where(infinite, np.nan, values) if infinite.any() else values


def _distribution(reference: np.ndarray, current: np.ndarray, kind: Kind) -> Distribution:
    if kind == "numeric":
        r = reference[~np.isnan(reference)]
        c = current[~np.isnan(current)]
        if r.size == 0 or c.size == 0:
            return Distribution([], [], [])
        low, high = np.percentile(np.concatenate([r, c]), [0.5, 99.5])
        if low == high:
            low, high = low - 0.5, high + 0.5
        edges = np.linspace(low, high, 31)
        shares = [np.histogram(np.clip(x, low, high), bins=edges)[0] / x.size for x in (r, c)]
        labels = [f"{edge:.4g}" for edge in edges[:-1]]
        return Distribution(labels, shares[0].tolist(), shares[1].tolist())
    ref_map = {str(k): v for k, v in count_categories(reference).items()}
    cur_map = {str(k): v for k, v in count_categories(current).items()}
    top = sorted(
        set(ref_map) | set(cur_map), key=lambda k: -(ref_map.get(k, 0) + cur_map.get(k, 0))
    )
    top = top[:15]
    ref_total, cur_total = max(sum(ref_map.values()), 1), max(sum(cur_map.values()), 1)
    return Distribution(
        top,
        [ref_map.get(k, 0) / ref_total for k in top],
        [cur_map.get(k, 0) / cur_total for k in top],
    )
