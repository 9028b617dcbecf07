"""``mlpulse report`` and ``mlpulse check``: drift of two files, as a page or a CI gate.

Both take the options of the Python API (``mlpulse.report``): ``--exclude COL``,
``--method COL=METHOD`` and ``--thresholds FILE`` (see
:mod:`mlpulse.cli.report_options`). Usage errors (a missing file, a bad flag, two
files without a column in common) exit 2; ``check`` exits 1 when a check fails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlpulse.core.drift.check import Kind
from mlpulse.core.drift.family import FamilyGrade, family_graded
from mlpulse.errors import MlpulseError

if TYPE_CHECKING:
    from mlpulse.library.report import Report

__all__ = ["check_command", "report_command"]

err = Console(stderr=True, soft_wrap=True)  # messages stay one line: grep-able in logs

ReferenceFile = Annotated[Path, typer.Option("--reference", help="CSV or Parquet file")]
CurrentFile = Annotated[Path, typer.Option("--current", help="CSV or Parquet file")]
Multivariate = Annotated[
    bool,
    typer.Option(help="Also run PCA reconstruction and a domain classifier over all columns"),
]
Exclude = Annotated[
    list[str] | None,
    typer.Option("--exclude", metavar="COLUMN", help="Leave this column out; repeat for several"),
]
Methods = Annotated[
    list[str] | None,
    typer.Option(
        "--method",
        metavar="COLUMN=METHOD",
        help="The drift method of a column (e.g. amount=psi); repeat for several",
    ),
]
ThresholdsFile = Annotated[
    Path | None,
    typer.Option(
        "--thresholds",
        metavar="FILE",
        help="YAML or JSON: columns: {COLUMN: {method, warning, critical}}, "
        "share: {warning, critical}",
    ),
]


def _usage_error(message: str) -> typer.Exit:
    err.print(f"[red]error:[/] {escape(message)}", highlight=False)  # names may hold [ ]
    return typer.Exit(2)


def _read_table(path: Path) -> object:
    """A CSV or Parquet file as a pyarrow Table."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise _usage_error(f"no such file: {path}")
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix in (".csv", ".tsv", ".txt"):
            import pyarrow.csv as pacsv

            delimiter = "\t" if suffix == ".tsv" else ","
            return pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter))
    except Exception as exc:  # pyarrow's own errors for a file it cannot read
        raise _usage_error(f"{path}: cannot read it: {exc}") from exc
    raise _usage_error(f"{path}: expected a .csv, .tsv or .parquet file")


def _names(columns: Sequence[str], *, limit: int = 12) -> str:
    shown = ", ".join(columns[:limit])
    return shown + (", …" if len(columns) > limit else "") if columns else "no columns"


def _drift_report(
    reference: Path,
    current: Path,
    *,
    multivariate: bool,
    exclude: Sequence[str],
    methods: Sequence[str],
    thresholds: Path | None,
) -> Report:
    from rich.progress import Progress

    from mlpulse.cli.report_options import column_options
    from mlpulse.library.frames import columns_of, infer_kind
    from mlpulse.library.report import report

    ref = columns_of(_read_table(reference), name="reference")
    cur = columns_of(_read_table(current), name="current")
    for name in exclude:
        if name not in ref and name not in cur:
            raise _usage_error(f"--exclude {name}: no column {name!r} in {reference} or {current}")
    ref = {n: v for n, v in ref.items() if n not in exclude}
    cur = {n: v for n, v in cur.items() if n not in exclude}
    kinds: dict[str, Kind] = {n: infer_kind(v) for n, v in ref.items() if n in cur}
    if not kinds:
        raise _usage_error(
            f"no column in common between {reference} and {current}"
            f"{' (after --exclude)' if exclude else ''}: reference has {_names(list(ref))}; "
            f"current has {_names(list(cur))}"
        )
    try:
        options = column_options(methods=methods, thresholds=thresholds, kinds=kinds)
    except MlpulseError as exc:
        raise _usage_error(str(exc)) from exc
    # A bar on a terminal; nothing in a log (Airflow, CI) where no one watches it.
    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("checks", total=None)

        def advance(step: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"checked: {step}")

        return report(
            ref, cur, checks=options.checks, share=options.share, multivariate=multivariate,
            progress=advance,
        )  # fmt: skip


def report_command(
    reference: ReferenceFile,
    current: CurrentFile,
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write")] = Path(
        "drift-report.html"
    ),
    json_output: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON")
    ] = None,
    multivariate: Multivariate = False,
    exclude: Exclude = None,
    method: Methods = None,
    thresholds: ThresholdsFile = None,
) -> None:
    """Write a drift report (self-contained HTML, optionally JSON) of two datasets."""
    result = _drift_report(
        reference, current, multivariate=multivariate, exclude=exclude or [],
        methods=method or [], thresholds=thresholds,
    )  # fmt: skip
    result.save_html(output)
    if json_output is not None:
        json_output.write_text(result.to_json(), encoding="utf-8")
    summary = result.to_dict()
    statuses = [c["status"] for c in summary["columns"].values()]
    dataset = summary["dataset"]
    err.print(
        f"{dataset['n_drifted']} of {dataset['n_columns']} columns drifted "
        f"({statuses.count('critical')} critical, {statuses.count('warning')} warning; "
        f"dataset: {dataset['status']}); wrote {output}",
        highlight=False,
    )


_SEVERITY = {"warning": ("warning", "critical"), "critical": ("critical",)}


def _rows(
    result: Mapping[str, Any], grades: Mapping[str, FamilyGrade] | None = None
) -> list[tuple[str, str, float | None, str, str]]:
    """Every check of a report: (check, column, value, threshold, status); with
    ``grades``, the drift columns as graded in their family (Holm-adjusted p-values)."""

    def drift(name: str, c: Mapping[str, Any]) -> tuple[str, str, float | None, str, str]:
        grade = grades.get(name) if grades else None
        if grade is not None and grade.adjusted:
            return (f"drift: {c['method']} (Holm-adjusted p)", name, grade.value,
                    f"{c['threshold']:.4g}", grade.status.value)  # fmt: skip
        return ("drift: " + c["method"], name, c["value"], f"{c['threshold']:.4g}", c["status"])

    return [
        drift(name, c) for name, c in sorted(result["columns"].items())
    ] + [
        (q["check"], q["column"] or "(dataset)", q["value"], "", q["status"])
        for q in result["quality"]
    ] + [
        ("drift: " + m["check"], "(dataset)", m["value"], f"{m['thresholds']['warning']:.4g}",
         m["status"])
        for m in result["multivariate"]
    ]  # fmt: skip


def check_command(
    reference: ReferenceFile,
    current: CurrentFile,
    fail_on: Annotated[
        str, typer.Option(help="Exit 1 when a check reaches this status: warning or critical")
    ] = "critical",
    show_all: Annotated[
        bool,
        typer.Option("--all", "--verbose", "-v", help="Print every check, not only failing ones"),
    ] = False,
    multivariate: Multivariate = False,
    exclude: Exclude = None,
    method: Methods = None,
    thresholds: ThresholdsFile = None,
    correction: Annotated[
        str,
        typer.Option(
            help="How p-value drift tests of many columns are graded together: holm (the "
            "chance that any column of unchanged data fails stays at the threshold's alpha) "
            "or none (each column on its own p-value)"
        ),
    ] = "holm",
) -> None:
    """Run the drift checks as a pass/fail suite (for CI, Airflow, Dagster, Kubeflow).

    Prints the failing checks (every check with --all) and exits 1 when any fails.
    The p-value drift tests (small samples) are graded as one family, on Holm-adjusted
    p-values (--correction none grades each column alone).
    """
    if fail_on not in _SEVERITY:
        raise _usage_error(f"--fail-on must be warning or critical; got {fail_on!r}")
    if correction not in ("holm", "none"):
        raise _usage_error(f"--correction must be holm or none; got {correction!r}")
    drift_report = _drift_report(
        reference, current, multivariate=multivariate, exclude=exclude or [],
        methods=method or [], thresholds=thresholds,
    )  # fmt: skip
    result = drift_report.to_dict()
    grades = family_graded(drift_report.drift.columns) if correction == "holm" else None
    rows = _rows(result, grades)
    table = Table("check", "column", "value", "threshold", "status")
    failed = 0
    for check, column, value, threshold, status in rows:
        bad = status in _SEVERITY[fail_on]
        failed += bad
        if bad or show_all:
            shown = "n/a" if value is None else f"{value:.4g}"
            colour = "red" if bad else "green" if status == "ok" else "yellow"
            table.add_row(escape(check), escape(column), shown, threshold, f"[{colour}]{status}")
    if table.row_count:
        Console().print(table)
    statuses = [row[4] for row in rows]
    counts = ", ".join(
        f"{statuses.count(s)} {s}" for s in ("critical", "warning", "insufficient_data")
        if statuses.count(s)
    )  # fmt: skip
    hint = "" if show_all else "; --all prints every check"
    if failed:
        err.print(
            f"[red]FAILED:[/] {failed} of {len(rows)} checks at {fail_on} or worse "
            f"({counts}){hint}",
            highlight=False,
        )
        raise typer.Exit(1)
    err.print(
        f"[green]passed:[/] {len(rows)} checks below {fail_on}"
        f"{f' ({counts})' if counts else ''}{hint}",
        highlight=False,
    )
