"""`mlpulse report` and `mlpulse check`: --exclude, --method, --thresholds, --all, and the
usage errors (exit 2) that name the flag, or the file and key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from mlpulse.cli.main import app


def _files(tmp_path: Path, n: int = 3000, seed: int = 0) -> list[str]:
    """amount shifts a lot, age a little, country and vip not at all."""
    rng = np.random.default_rng(seed)
    reference = {
        "amount": rng.normal(0, 1, n),
        "age": rng.normal(40, 10, n),
        "country": rng.choice(["DE", "FR", "US"], n),
        "vip": rng.random(n) < 0.1,
    }
    current = {
        "amount": rng.normal(1.0, 1, n),
        "age": rng.normal(41.5, 10, n),
        "country": rng.choice(["DE", "FR", "US"], n),
        "vip": rng.random(n) < 0.1,
    }
    pq.write_table(pa.table(reference), tmp_path / "ref.parquet")
    pq.write_table(pa.table(current), tmp_path / "cur.parquet")
    return [
        "--reference",
        str(tmp_path / "ref.parquet"),
        "--current",
        str(tmp_path / "cur.parquet"),
    ]


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _report(tmp_path: Path, *args: str) -> dict[str, object]:
    out = tmp_path / "r.json"
    done = _run("report", *_files(tmp_path), "-o", str(tmp_path / "r.html"), "--json", str(out),
                *args)  # fmt: skip
    assert done.exit_code == 0, done.output + done.stderr
    loaded: dict[str, object] = json.loads(out.read_text())
    return loaded


def test_report_exclude_leaves_the_columns_out(tmp_path: Path) -> None:
    columns = _report(tmp_path, "--exclude", "amount", "--exclude", "vip")["columns"]
    assert isinstance(columns, dict)
    assert sorted(columns) == ["age", "country"]


def test_report_method_sets_the_method_of_a_column(tmp_path: Path) -> None:
    columns = _report(tmp_path, "--method", "amount=ks", "--method", "country=psi")["columns"]
    assert isinstance(columns, dict)
    assert columns["amount"]["method"] == "ks" and columns["amount"]["value_is_p_value"]
    assert columns["country"]["method"] == "psi"
    assert columns["age"]["method"] == "wasserstein"  # the default for 3,000 rows


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_report_thresholds_file_sets_methods_and_thresholds(tmp_path: Path, suffix: str) -> None:
    settings = {
        "columns": {
            "amount": {"method": "wasserstein", "warning": 2.0, "critical": 3.0},
            "age": {"method": "ks", "critical": 0.001},
        },
        "share": {"warning": 0.4},
    }
    path = tmp_path / f"t{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(settings))
    else:
        path.write_text(
            "columns:\n  amount: {method: wasserstein, warning: 2.0, critical: 3.0}\n"
            "  age: {method: ks, critical: 0.001}\nshare: {warning: 0.4}\n"
        )
    result = _report(tmp_path, "--thresholds", str(path))
    columns, dataset = result["columns"], result["dataset"]
    assert isinstance(columns, dict) and isinstance(dataset, dict)
    assert columns["amount"]["thresholds"] == {"warning": 2.0, "critical": 3.0}
    assert columns["amount"]["status"] == "ok"  # a shift of 1 sd is below 2
    assert columns["age"]["thresholds"] == {"warning": 0.05, "critical": 0.001}
    assert dataset["share_thresholds"] == {"warning": 0.4, "critical": 0.5}


def test_report_method_flag_overrides_the_file_method_and_keeps_its_thresholds(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("columns:\n  amount: {warning: 0.5, critical: 0.9}\n")
    columns = _report(tmp_path, "--thresholds", str(path), "--method", "amount=psi")["columns"]
    assert isinstance(columns, dict)
    assert columns["amount"]["method"] == "psi"
    assert columns["amount"]["thresholds"] == {"warning": 0.5, "critical": 0.9}


FLAG_ERRORS = [
    (["--method", "amount=chi_square"], "--method amount=chi_square: 'chi_square' does not fit"),
    (["--method", "amount=bogus"], "--method amount=bogus: no method 'bogus'; expected one of"),
    (["--method", "nope=psi"], "--method nope=psi: no column 'nope' in both datasets"),
    (["--method", "amount"], "--method must be COLUMN=METHOD; got 'amount'"),
    (["--exclude", "nope"], "--exclude nope: no column 'nope' in"),
]


@pytest.mark.parametrize(("args", "message"), FLAG_ERRORS)
def test_report_flag_errors_name_the_flag_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = _run("report", *_files(tmp_path), "-o", str(tmp_path / "r.html"), *args)
    assert done.exit_code == 2
    assert message in done.stderr
    assert not (tmp_path / "r.html").exists()


FILE_ERRORS = [
    ("columns:\n  amount: {warning: 0.2}\n", "t.yaml: columns.amount: thresholds need a method"),
    (
        "columns:\n  amount: {method: ks, warning: 0.01, critical: 0.05}\n",
        "t.yaml: columns.amount: ks expects 0 <= critical < warning <= 1 (p-values); "
        "got warning 0.01, critical 0.05",
    ),
    (
        "columns:\n  amount: {method: psi, warning: high}\n",
        "t.yaml: columns.amount.warning: expected a number; got 'high'",
    ),
    ("columns:\n  amount: {methd: psi}\n", "t.yaml: columns.amount.methd: unknown key"),
    (
        "columns:\n  country: {method: wasserstein}\n",
        "t.yaml: columns.country.method: 'wasserstein' does not fit a categorical column",
    ),
    ("columns:\n  ghost: {method: psi}\n", "t.yaml: columns.ghost: no column 'ghost' in both"),
    ("colums: {}\n", "t.yaml: colums: unknown key"),
    ("share: {warning: 0.7, critical: 0.6}\n", "t.yaml: share: expected 0 <= warning < critical"),
    ("columns: [\n", "t.yaml:2: not valid YAML"),
]


@pytest.mark.parametrize(("text", "message"), FILE_ERRORS)
def test_report_thresholds_file_errors_name_the_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "t.yaml").write_text(text)
    done = _run("report", *_files(tmp_path), "--thresholds", str(tmp_path / "t.yaml"))
    assert done.exit_code == 2
    assert message in done.stderr


def test_report_exits_2_naming_the_columns_when_no_column_is_common(tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": [1.0] * 10, "b": ["x"] * 10}), tmp_path / "ref.parquet")
    pq.write_table(pa.table({"x": [1.0] * 10, "y": [2.0] * 10}), tmp_path / "cur.parquet")
    for command in ("report", "check"):
        done = _run(command, "--reference", str(tmp_path / "ref.parquet"),
                    "--current", str(tmp_path / "cur.parquet"))  # fmt: skip
        assert done.exit_code == 2
        assert (
            f"no column in common between {tmp_path / 'ref.parquet'} and "
            f"{tmp_path / 'cur.parquet'}: reference has a, b; current has x, y"
        ) in done.stderr


def test_check_prints_only_failing_checks_unless_all(tmp_path: Path) -> None:
    files = _files(tmp_path)
    failing = _run("check", *files)
    assert failing.exit_code == 1
    assert "amount" in failing.stdout
    for quiet in ("country", "vip", "missing_values"):
        assert quiet not in failing.stdout
    assert "FAILED: 1 of" in failing.stderr and "--all prints every check" in failing.stderr
    every = _run("check", *files, "--all")
    assert every.exit_code == 1
    for name in ("amount", "age", "country", "vip", "missing_values"):
        assert name in every.stdout
    assert _run("check", *files, "--verbose").stdout == every.stdout


def test_check_passes_with_exclude_and_prints_no_table(tmp_path: Path) -> None:
    done = _run("check", *_files(tmp_path), "--exclude", "amount", "--exclude", "age")
    assert done.exit_code == 0, done.stdout + done.stderr
    assert done.stdout == ""
    assert "passed:" in done.stderr


def test_check_fails_on_warning_with_thresholds_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"columns": {"age": {"method": "wasserstein", "warning": 0.05}}}))
    files = _files(tmp_path)
    shown = _run("check", *files, "--exclude", "amount", "--thresholds", str(path),
                 "--fail-on", "warning")  # fmt: skip
    assert shown.exit_code == 1
    assert "age" in shown.stdout


def _halves(tmp_path: Path, seed: int, *, shift: float = 0.0) -> list[str]:
    """Two random 300-row halves of one 25-column dataset (20 numeric, 5 categorical);
    ``shift`` moves column n0 of the second half."""
    rng = np.random.default_rng(seed)
    data = {f"n{i}": rng.normal(0, 1, 600) for i in range(20)}
    data |= {f"c{i}": rng.choice(["a", "b", "c", "d"], 600) for i in range(5)}
    order = rng.permutation(600)
    reference = {k: v[order[:300]] for k, v in data.items()}
    current = {k: v[order[300:]] for k, v in data.items()}
    current["n0"] = current["n0"] + shift
    pq.write_table(pa.table(reference), tmp_path / f"ref{seed}.parquet")
    pq.write_table(pa.table(current), tmp_path / f"cur{seed}.parquet")
    return ["--reference", str(tmp_path / f"ref{seed}.parquet"),
            "--current", str(tmp_path / f"cur{seed}.parquet")]  # fmt: skip


def test_check_fail_on_warning_passes_two_halves_of_one_dataset_at_300_rows(
    tmp_path: Path,
) -> None:
    # 25 columns each tested at p < 0.05 warned somewhere in about 72% of such runs;
    # graded as one family (Holm) the suite fails at most about 5% of them (here 3 of
    # these 20 fixed seeds: binomial noise at 20 runs; tests/unit/core/test_drift_family.py
    # measures the rate over 200 runs).
    failed = [
        s
        for s in range(20)
        if _run("check", *_halves(tmp_path, s), "--fail-on", "warning").exit_code
    ]
    assert len(failed) <= 3, failed
    alone = [
        s
        for s in range(20)
        if _run(
            "check", *_halves(tmp_path, s), "--fail-on", "warning", "--correction", "none"
        ).exit_code
    ]
    assert len(alone) >= 8, alone


def test_check_fail_on_warning_still_fails_on_a_column_that_moved_at_300_rows(
    tmp_path: Path,
) -> None:
    done = _run("check", *_halves(tmp_path, 0, shift=0.5), "--fail-on", "warning")
    assert done.exit_code == 1
    assert "Holm-adjusted p" in done.output and "n0" in done.output
