"""The client across process events: fork (pre-fork servers) and interpreter exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")
def test_client_made_before_fork_works_in_the_child(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url, flush_interval=60.0)
    parent_id = client.log_prediction("fraud", "v3", {"who": "parent"})
    read_end, write_end = os.pipe()

    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which never returns to pytest
        code = 1
        try:
            os.close(read_end)
            child_id = client.log_prediction("fraud", "v3", {"who": "child"})
            delivered = client.flush(timeout=4)
            stats = client.stats()
            os.write(write_end, child_id.encode())
            code = 0 if delivered and (stats.logged, stats.sent) == (1, 1) else 2
        finally:
            os._exit(code)

    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child_id = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0

    # The child sent only its own event; what the parent buffered stays the parent's.
    assert [p.features["who"] for p in receiver.predictions()] == ["child"]
    assert client.flush(timeout=4)
    assert sorted(p.request_id for p in receiver.predictions()) == sorted([parent_id, child_id])
    # A new id prefix in the child: ids from pre-forked workers never collide.
    assert child_id.rsplit("-", 1)[0] != parent_id.rsplit("-", 1)[0]
    assert client.stats().sent == 1


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_client_delivers_at_interpreter_exit_without_close(receiver: Any) -> None:
    result = run_python(
        """
        import sys
        import mlpulse

        client = mlpulse.Client(sys.argv[1], "k", flush_interval=60.0)
        for i in range(10):
            client.log_prediction("fraud", "v3", {"i": float(i)})
        # Dropped without close(): still delivered at exit, and not kept alive before.
        orphan = mlpulse.Client(sys.argv[1], "k", flush_interval=60.0)
        orphan.log_label("fraud", "r-1", 1)
        del orphan
        """,
        receiver.url,
    )
    assert result.returncode == 0, result.stderr
    assert len(receiver.events()) == 11


def test_client_exit_waits_no_longer_than_exit_timeout_when_collector_is_down() -> None:
    result = run_python(
        """
        import time
        import mlpulse

        client = mlpulse.Client("http://127.0.0.1:9", "k", exit_timeout=0.3)
        client.log_prediction("fraud", "v3", {"x": 1.0})
        print(time.monotonic())
        """
    )
    assert result.returncode == 0, result.stderr
    assert "1 events not delivered" in result.stderr
