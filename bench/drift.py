"""A full drift report of 25 columns: mlpulse beside Evidently, a scipy loop and a floor.

Each contender runs in a fresh child process on the same data (the synthetic set of
tests/unit/core/test_drift_check.py, written once to Parquet), and reports its CPU time
(all threads), wall time and peak extra memory (resident set growth while it computes).
Loading the data and importing the libraries happen before the clock starts: a
long-running job pays them once (``import mlpulse; mlpulse.report`` alone is about
1.5 s). Evidently runs from its own virtualenv, never as a dependency of mlpulse
(Evidently 0.7 needs pandas 2):

    python3 -m venv bench/.venv-evidently
    bench/.venv-evidently/bin/pip install evidently pyarrow "pandas<3"
    .venv/bin/python bench/drift.py --rows 100000 1000000 5000000 --evidently-max-rows 1000000

Contenders:
- mlpulse: `mlpulse.report(reference, current)` with defaults: drift of every column
  and the data-quality suite (missing values, types, ranges, infinities, unseen
  categories, constant columns, cardinality, duplicated rows), no HTML;
- mlpulse-drift: the same with `quality=False`, which is what DataDriftPreset covers;
- evidently: `Report([DataDriftPreset()])` (0.7 API, or the 0.4 one) on pandas frames;
- scipy loop: KS + PSI + Wasserstein per numeric column, chi-square per categorical one;
- floor: one `np.sort` of every numeric column of both frames.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CHILD = r"""
import json, resource, sys, time
import numpy as np
import pyarrow.parquet as pq

which, ref_path, cur_path = sys.argv[1:4]
reference, current = pq.read_table(ref_path), pq.read_table(cur_path)
frames_mb = (reference.nbytes + current.nbytes) / 2**20

def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])

numeric = [n for n in reference.column_names if not n.startswith("cat_")]
categorical = [n for n in reference.column_names if n.startswith("cat_")]
if which in ("floor", "scipy", "mlpulse", "mlpulse-drift"):
    ref = {n: reference.column(n).to_numpy(zero_copy_only=False) for n in reference.column_names}
    cur = {n: current.column(n).to_numpy(zero_copy_only=False) for n in current.column_names}
else:
    ref, cur = reference.to_pandas(), current.to_pandas()
# Imports happen before the clock starts: a long-running job pays them once.
if which == "scipy":
    from scipy import stats
elif which in ("mlpulse", "mlpulse-drift"):
    import mlpulse
    report = mlpulse.report  # the lazy import, resolved before the clock starts
elif which == "evidently":
    try:
        from evidently import Report
        from evidently.presets import DataDriftPreset
        legacy = False
    except ImportError:
        from evidently.report import Report
        from evidently.metric_preset import DataDriftPreset
        legacy = True
base = rss_kb()
peak = [base]
import threading
stop = threading.Event()
def watch():
    while not stop.is_set():
        peak[0] = max(peak[0], rss_kb()); time.sleep(0.01)
threading.Thread(target=watch, daemon=True).start()
cpu0, wall0 = time.process_time(), time.perf_counter()
if which == "floor":
    for n in numeric:
        np.sort(ref[n]); np.sort(cur[n])
elif which == "scipy":
    for n in numeric:
        r, c = ref[n][~np.isnan(ref[n])], cur[n][~np.isnan(cur[n])]
        stats.ks_2samp(r, c)
        stats.wasserstein_distance(r, c)
        edges = np.unique(np.quantile(r, np.linspace(0, 1, 11)))
        p = np.histogram(r, edges)[0] / r.size + 1e-4
        q = np.histogram(np.clip(c, edges[0], edges[-1]), edges)[0] / c.size + 1e-4
        float(np.sum((q - p) * np.log(q / p)))
    for n in categorical:
        cats, inverse = np.unique(np.concatenate([ref[n], cur[n]]), return_inverse=True)
        table = np.stack([np.bincount(inverse[: len(ref[n])], minlength=len(cats)),
                          np.bincount(inverse[len(ref[n]):], minlength=len(cats))])
        stats.chi2_contingency(table[:, table.sum(axis=0) > 0])
elif which == "mlpulse":
    report(ref, cur).to_dict()  # defaults: drift and the data-quality suite
elif which == "mlpulse-drift":
    report(ref, cur, quality=False).to_dict()  # drift only, as DataDriftPreset
elif which == "evidently":
    if legacy:
        Report(metrics=[DataDriftPreset()]).run(reference_data=ref, current_data=cur)
    else:
        Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
stop.set()
peak[0] = max(peak[0], rss_kb())
print(json.dumps({"cpu_s": cpu, "wall_s": wall, "extra_mb": (peak[0] - base) / 1024,
                  "frames_mb": frames_mb}))
"""


def _write_data(rows: int, folder: Path) -> tuple[Path, Path, float]:
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tests.unit.core.test_drift_check import _synthetic

    reference, current, _ = _synthetic(rows, seed=42)
    paths = []
    size = 0.0
    for name, data in (("reference", reference), ("current", current)):
        table = pa.table({k: pa.array(v) for k, v in data.items()})
        size += sum(
            np.asarray(v).nbytes if np.asarray(v).dtype != object else 0 for v in data.values()
        )
        path = folder / f"{name}-{rows}.parquet"
        pq.write_table(table, path)
        paths.append(path)
    return paths[0], paths[1], size / 2**20


def _run(python: str, which: str, ref: Path, cur: Path) -> dict[str, float] | None:
    done = subprocess.run(
        [python, "-c", _CHILD, which, str(ref), str(cur)], capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    if done.returncode != 0:
        print(f"  {which}: failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description="drift report benchmark")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--evidently-python", default=str(HERE / ".venv-evidently/bin/python"))
    parser.add_argument(
        "--evidently-max-rows", type=int, default=None, help="skip Evidently above this size"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender (best kept)")
    args = parser.parse_args()
    contenders = [
        ("floor", sys.executable),
        ("scipy", sys.executable),
        ("mlpulse-drift", sys.executable),
        ("mlpulse", sys.executable),
    ]
    if Path(args.evidently_python).exists():
        contenders.append(("evidently", args.evidently_python))
    else:
        print(f"(Evidently skipped: no interpreter at {args.evidently_python})")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            ref, cur = _write_data(rows, Path(tmp))[:2]
            print(f"\n{rows:,} rows per frame, 20 numeric + 5 categorical columns")
            print(f"{'contender':14} {'CPU s':>8} {'wall s':>8} {'extra MB':>9}")
            results = {}
            for which, python in contenders:
                if which == "evidently" and rows > (args.evidently_max_rows or rows):
                    print(f"{which:14} (not run at this size)")
                    continue
                runs = [r for _ in range(args.repeat) if (r := _run(python, which, ref, cur))]
                if runs:
                    results[which] = result = min(runs, key=lambda r: r["cpu_s"])
                    print(f"{which:14} {result['cpu_s']:8.2f} {result['wall_s']:8.2f} "
                          f"{result['extra_mb']:9.0f}")  # fmt: skip
            if "mlpulse" in results:
                m = results["mlpulse"]
                print(f"  the two frames (Arrow): {m['frames_mb']:.0f} MB")
                for other in ("mlpulse-drift", "floor", "scipy", "evidently"):
                    if other in results:
                        ratio = m["cpu_s"] / results[other]["cpu_s"]
                        less = f" ({1 / ratio:.1f}x less)" if ratio < 1 else ""
                        print(f"  mlpulse (quality on) CPU / {other}: {ratio:.2f}{less}")


if __name__ == "__main__":
    main()
