"""Reference uploads stream to a temporary file under their own limit
(MLPULSE_MAX_REFERENCE_BYTES, 1 GiB): a 1M-row Parquet file of 75 MB, which the general
body limit (32 MiB) refused, is accepted with the collector's memory growing well under
its size, while other requests are served."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlpulse.server.settings import DEFAULT_MAX_BODY_BYTES, Settings
from tests.conftest import RunningCollector, start_collector

PARQUET = {"Content-Type": "application/vnd.apache.parquet"}


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _write(path: Path, rows: int, seed: int = 0) -> Path:
    """8 numeric features, a score and its label; uncompressed (random floats do not
    compress anyway): about 75 bytes a row."""
    rng = np.random.default_rng(seed)
    columns = {f"f{i}": rng.normal(size=rows) for i in range(8)}
    columns["score"] = rng.random(rows)
    columns["label"] = (rng.random(rows) < columns["score"]).astype(np.int8)
    pq.write_table(pa.table(columns), path, compression="none")
    return path


@pytest.fixture
def spooled(tmp_path: Path) -> Iterator[tuple[RunningCollector, Path]]:
    """A collector with the default limits, its temporary files in a folder of its own."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    process, keys = start_collector(tmp_path / "data", TMPDIR=str(temporary))
    try:
        yield RunningCollector(process, keys["admin"], keys["ingest"], keys["read"]), temporary
    finally:
        process.stop()


def test_reference_upload_streams_a_large_parquet_file_in_bounded_memory(
    spooled: tuple[RunningCollector, Path], tmp_path: Path
) -> None:
    collector, temporary = spooled
    assert Settings.from_env({}).max_reference_bytes == 1024**3
    admin, url = collector.headers(collector.admin_key), collector.url
    big = _write(tmp_path / "big.parquet", 1_000_000)
    size = big.stat().st_size
    assert size > 71 * 1000**2 and size > DEFAULT_MAX_BODY_BYTES  # what used to be refused
    # Warm up (imports, first allocations, a full (score, label) sample stored, the
    # requests polled below) with a small file, then measure from there.
    small = _write(tmp_path / "small.parquet", 120_000)
    warm = httpx.post(
        f"{url}/v1/models/warm/reference",
        params={"score_column": "score", "label_column": "label"},
        content=small.read_bytes(),
        headers={**admin, **PARQUET},
    )
    assert warm.status_code == 201, warm.text
    read = collector.headers(collector.read_key)
    assert httpx.get(f"{url}/v1/models", headers=read).status_code == 200
    before = _peak_rss_mb(collector.process.pid)

    latencies: list[float] = []
    answers: list[int] = []
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(timeout=10.0) as other:
            while not done.is_set():
                started = time.perf_counter()
                answers.append(other.get(f"{url}/healthz").status_code)
                answers.append(
                    other.get(
                        f"{url}/v1/models", headers=collector.headers(collector.read_key)
                    ).status_code
                )
                latencies.append(time.perf_counter() - started)
                time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        with big.open("rb") as file:
            uploaded = httpx.post(
                f"{url}/v1/models/big/reference",
                params={"score_column": "score", "label_column": "label", "name": big.name},
                content=file,
                headers={**admin, **PARQUET},
                timeout=120.0,
            )
    finally:
        done.set()
        poller.join()
    assert uploaded.status_code == 201, uploaded.text
    view = uploaded.json()
    assert view["rows"] == 1_000_000 and view["sample_rows"] == 100_000
    assert sorted(view["columns"]) == [f"f{i}" for i in range(8)]
    grown = _peak_rss_mb(collector.process.pid) - before
    # Measured on a 2-core machine: 21 MiB for this 71 MiB body on the branch that built
    # it, 41-43 MiB on the merged tree (3 runs; the profiles now keep their counts and
    # quantile reads). Before, reading the body alone took 143 MiB (the chunks, then one
    # bytes object), and the upload 261 MiB or more (with MLPULSE_MAX_BODY_BYTES raised
    # to let it in): the bound is well under the body and under a third of that.
    assert grown < 0.75 * size / 1024**2, f"peak memory grew {grown:.0f} MiB"
    assert len(latencies) >= 5 and set(answers) == {200}
    assert max(latencies) < 3.0, f"other requests waited up to {max(latencies):.1f} s"
    assert list(temporary.iterdir()) == []  # the temporary file is gone


def test_reference_upload_over_its_limit_is_413_naming_the_setting(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    process, keys = start_collector(
        tmp_path / "data", TMPDIR=str(temporary), MLPULSE_MAX_REFERENCE_BYTES=str(1024**2)
    )
    admin = {"Authorization": f"Bearer {keys['admin']}", **PARQUET}
    try:
        body = _write(tmp_path / "two.parquet", 28_000).read_bytes()  # about 2 MB
        assert len(body) > 1024**2
        declared = httpx.post(f"{process.url}/v1/models/m/reference", content=body, headers=admin)
        chunked = httpx.post(  # no Content-Length: refused once 1 MiB has arrived
            f"{process.url}/v1/models/m/reference",
            content=iter([body[i : i + 65536] for i in range(0, len(body), 65536)]),
            headers=admin,
        )
        for refused in (declared, chunked):
            assert refused.status_code == 413, refused.text
            message = refused.json()["error"]["message"]
            assert "MLPULSE_MAX_REFERENCE_BYTES" in message and "1048576 bytes" in message
        broken = httpx.post(
            f"{process.url}/v1/models/m/reference", content=b"PAR1 not parquet", headers=admin
        )
        assert broken.status_code == 400 and "cannot read" in broken.json()["error"]["message"]
        csv = httpx.post(
            f"{process.url}/v1/models/m/reference",
            content=b"a,b\n1,x\n2,y\n3,x\n",
            headers={**admin, "Content-Type": "text/csv"},
        )
        assert csv.status_code == 201 and csv.json()["rows"] == 3
        for media, content in (("application/json", b"{}"), ("application/octet-stream", b"a,b")):
            refused = httpx.post(
                f"{process.url}/v1/models/m/reference",
                content=content,
                headers={**admin, "Content-Type": media},
            )
            assert refused.status_code == 415, refused.text
        assert list(temporary.iterdir()) == []
    finally:
        process.stop()
