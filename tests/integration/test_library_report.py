"""Library mode: mlpulse.report on every kind of frame, and its JSON and HTML."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mlpulse
from mlpulse.core.drift.check import ColumnCheck
from mlpulse.core.drift.methods import Thresholds
from mlpulse.errors import InvalidInputError


def _frames(n: int = 5000, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    reference = {
        "amount": rng.lognormal(3, 1, n),
        "age": rng.integers(18, 90, n).astype(float),
        "country": rng.choice(["DE", "FR", "US", "GB"], n),
        "vip": rng.random(n) < 0.1,
    }
    current = {
        "amount": rng.lognormal(3.6, 1, n),  # shifted
        "age": rng.integers(18, 90, n).astype(float),
        "country": rng.choice(["DE", "FR", "US", "GB", "BR"], n, p=[0.2, 0.2, 0.2, 0.2, 0.2]),
        "vip": rng.random(n) < 0.1,
    }
    current["age"][:100] = np.nan
    return reference, current


def test_report_flags_shifted_columns_and_keeps_the_others() -> None:
    reference, current = _frames()
    result = mlpulse.report(reference, current).to_dict()
    columns = result["columns"]
    assert {n for n, c in columns.items() if c["drifted"]} == {"amount", "country"}
    for c in columns.values():
        assert {"drifted", "method", "value", "threshold", "status"} <= set(c)
    assert columns["vip"]["kind"] == "boolean"
    assert columns["age"]["n_current"] == 4900  # missing values are left out
    assert "BR" in columns["country"]["details"]["unseen_categories"]
    assert result["dataset"]["n_drifted"] == 2
    assert result["dataset"]["drifted_share"] == pytest.approx(0.5)
    assert result["dataset"]["status"] == "critical"


@pytest.mark.parametrize("frame", ["pandas", "polars", "pyarrow"])
def test_report_gives_the_same_answer_for_every_frame_library(frame: str) -> None:
    reference, current = _frames()
    convert = {"pandas": pd.DataFrame, "polars": pl.DataFrame, "pyarrow": pa.table}[frame]
    expected = mlpulse.report(reference, current).to_dict()
    got = mlpulse.report(convert(reference), convert(current)).to_dict()
    assert got == expected


def test_report_to_json_is_the_dict_with_nan_as_null() -> None:
    reference, current = _frames()
    current["age"] = np.full(5000, np.nan)  # nothing left to compare
    r = mlpulse.report(reference, current)
    data = json.loads(r.to_json())
    assert data == r.to_dict()
    assert data["columns"]["age"]["status"] == "insufficient_data"
    assert data["columns"]["age"]["value"] is None


def test_report_honours_kinds_and_checks() -> None:
    reference, current = _frames()
    r = mlpulse.report(
        reference,
        current,
        kinds={"age": "categorical"},
        checks={"amount": ColumnCheck(method="psi", thresholds=Thresholds(5.0, 9.0))},
    ).to_dict()
    assert r["columns"]["age"]["kind"] == "categorical"
    assert r["columns"]["amount"]["method"] == "psi"
    assert not r["columns"]["amount"]["drifted"]


def test_report_save_html_is_self_contained(tmp_path: Path) -> None:
    reference, current = _frames()
    page = mlpulse.report(reference, current).save_html(tmp_path / "r.html").read_text()
    assert page.startswith("<!doctype html>")
    for name in ("amount", "age", "country", "vip", "critical", "<svg"):
        assert name in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_report_names_the_argument_it_cannot_read() -> None:
    with pytest.raises(InvalidInputError, match="current"):
        mlpulse.report({"a": [1.0, 2.0]}, "not a frame")


def _mlpulse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlpulse", *args], capture_output=True, text=True)


def test_cli_report_and_check_read_csv_and_parquet(tmp_path: Path) -> None:
    reference, current = _frames()
    pd.DataFrame(reference).to_csv(tmp_path / "ref.csv", index=False)
    pq.write_table(pa.table(current), tmp_path / "cur.parquet")
    pq.write_table(pa.table(reference), tmp_path / "same.parquet")
    out = tmp_path / "out.html"
    done = _mlpulse(
        "report", "--reference", str(tmp_path / "ref.csv"), "--current",
        str(tmp_path / "cur.parquet"), "-o", str(out), "--json", str(tmp_path / "out.json"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("<!doctype html>")
    assert json.loads((tmp_path / "out.json").read_text())["dataset"]["n_drifted"] == 2
    failing = _mlpulse(
        "check",
        "--reference",
        str(tmp_path / "ref.csv"),
        "--current",
        str(tmp_path / "cur.parquet"),
    )
    assert failing.returncode == 1
    assert "FAILED" in failing.stderr
    passing = _mlpulse(
        "check",
        "--reference",
        str(tmp_path / "ref.csv"),
        "--current",
        str(tmp_path / "same.parquet"),
    )
    assert passing.returncode == 0, passing.stdout + passing.stderr
    missing = _mlpulse("check", "--reference", str(tmp_path / "nope.csv"), "--current", str(out))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_report_runs_the_data_quality_checks_too(tmp_path: Path) -> None:
    reference, current = _frames()
    current["age"][:1500] = np.nan  # 2% → 30% missing
    current["channel"] = np.full(5000, "web")  # a column the reference does not have
    del current["vip"]  # and one it had
    r = mlpulse.report(reference, current)
    quality = {(q["check"], q["column"]): q["status"] for q in r.to_dict()["quality"]}
    assert quality[("missing_values", "age")] == "critical"
    assert quality[("columns", None)] == "critical"
    assert "vip" not in r.to_dict()["columns"]
    page = r.save_html(tmp_path / "q.html").read_text()
    assert "Data quality" in page and "missing_values" in page


def _correlation_flip(n: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every column keeps its distribution; the correlation of x and y changes sign."""
    rng = np.random.default_rng(seed)
    x, x2 = rng.normal(size=n), rng.normal(size=n)
    reference = {"x": x, "y": x + rng.normal(scale=0.3, size=n), "z": rng.normal(size=n),
                 "c": rng.choice(["a", "b", "c"], n)}  # fmt: skip
    current = {"x": x2, "y": -x2 + rng.normal(scale=0.3, size=n), "z": rng.normal(size=n),
               "c": rng.choice(["a", "b", "c"], n)}  # fmt: skip
    return reference, current


def test_report_multivariate_catches_a_correlation_change_no_column_shows(tmp_path: Path) -> None:
    reference, current = _correlation_flip(20_000, seed=3)
    steps: list[tuple[str, int, int]] = []
    r = mlpulse.report(
        reference, current, multivariate=True, progress=lambda *a: steps.append(a)
    ).to_dict()
    assert not any(c["drifted"] for c in r["columns"].values())
    joint = {m["check"]: m for m in r["multivariate"]}
    assert joint["pca_reconstruction"]["status"] == "critical"
    assert joint["pca_reconstruction"]["columns"] == ["x", "y", "z"]  # no category codes
    assert joint["domain_classifier"]["value"] > 0.9
    top = [name for name, _ in joint["domain_classifier"]["details"]["top_features"][:2]]
    assert sorted(top) == ["x", "y"]
    # Progress: quality, each column, then the multivariate checks, counted to the total.
    assert steps[0] == ("quality", 1, 6) and steps[-1] == ("multivariate", 6, 6)
    assert sorted(s[1] for s in steps) == [1, 2, 3, 4, 5, 6]
    page = mlpulse.report(reference, current, multivariate=True).save_html(tmp_path / "m.html")
    assert "Multivariate drift" in page.read_text()


def test_report_multivariate_stays_ok_without_a_change() -> None:
    reference, _ = _correlation_flip(20_000, seed=4)
    current, _ = _correlation_flip(20_000, seed=5)
    r = mlpulse.report(reference, current, multivariate=True).to_dict()
    assert [m["status"] for m in r["multivariate"]] == ["ok", "ok"]
    assert mlpulse.report(reference, current).to_dict()["multivariate"] == []


def test_cli_check_fails_on_multivariate_drift_only_when_asked(tmp_path: Path) -> None:
    reference, current = _correlation_flip(5_000, seed=6)
    pq.write_table(pa.table(reference), tmp_path / "ref.parquet")
    pq.write_table(pa.table(current), tmp_path / "cur.parquet")
    files = (
        "--reference",
        str(tmp_path / "ref.parquet"),
        "--current",
        str(tmp_path / "cur.parquet"),
    )
    assert _mlpulse("check", *files).returncode == 0
    failing = _mlpulse("check", *files, "--multivariate")
    assert failing.returncode == 1
    assert "domain_classifier" in failing.stdout and "pca_reconstruction" in failing.stdout


def test_report_counts_infinities_as_a_quality_problem_and_drifts_on_finite_values() -> None:
    rng = np.random.default_rng(0)
    reference, current = rng.normal(size=2_000), rng.normal(size=2_000)
    current[:30], current[30:40] = np.inf, -np.inf
    reference[:5] = -np.inf
    result = mlpulse.report({"x": reference, "y": reference}, {"x": current, "y": reference})
    data = result.to_dict()
    assert data["columns"]["x"]["n_current"] == 1_960
    assert data["columns"]["x"]["n_reference"] == 1_995
    assert data["columns"]["x"]["status"] == "ok"
    (finite,) = [q for q in data["quality"] if q["check"] == "non_finite" and q["column"] == "x"]
    assert finite["value"] == pytest.approx(40 / 2_000)
    assert finite["status"] == "critical"
    assert finite["details"]["n_positive_inf"] == 30
    assert result.distributions["x"].labels  # the charts use the finite values too


def test_report_drift_is_the_same_whether_the_quality_checks_share_their_counts() -> None:
    # With quality on, the drift checks reuse the quality summaries' category counts.
    rng = np.random.default_rng(5)
    n = 3_000
    mixed = np.empty(n, dtype=object)
    mixed[:] = rng.choice(np.array(["a", 1, 2.5, None, float("nan"), "b"], dtype=object), n)
    labels = np.array([f"c{i}" for i in range(300)], dtype=object)
    flags = np.where(rng.random(n) < 0.1, None, rng.random(n) < 0.4).astype(object)

    def frame(shift: float) -> dict[str, np.ndarray]:
        return {
            "x": rng.normal(shift, 1.0, n),
            "labels": labels[rng.zipf(1.3 + shift, n) % 300],
            "mixed": mixed[rng.permutation(n)],
            "typed": rng.integers(0, 7, n),
            "flags": flags[rng.permutation(n)],
            "texts": np.array(["u", "v", "w"])[rng.integers(0, 3, n)],
        }

    reference, current = frame(0.0), frame(0.2)
    kinds = {"typed": "categorical"}
    with_quality = mlpulse.report(reference, current, kinds=kinds).to_dict()
    without = mlpulse.report(reference, current, kinds=kinds, quality=False).to_dict()
    assert with_quality["columns"] == without["columns"]
    assert with_quality["dataset"] == without["dataset"]
    assert with_quality["columns"]["labels"]["kind"] == "categorical"
    assert with_quality["columns"]["flags"]["kind"] == "boolean"
