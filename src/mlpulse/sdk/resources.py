"""Resource samples of the serving process: CPU and memory with psutil, GPUs with NVML.

psutil is an optional dependency (``pip install 'mlpulse[resources]'``), imported
only when a sampler starts, so ``import mlpulse`` stays light. GPUs are sampled
through NVML, the ``pynvml`` module of the ``nvidia-ml-py`` package, which mlpulse
does not depend on: install it beside the NVIDIA driver to get GPU fields. Without
the package, the driver or a GPU, samples simply have no GPU fields.

NVML reports devices, not processes: ``gpu_utilization`` and ``gpu_memory_used_mb``
are those of every GPU the process can see (``CUDA_VISIBLE_DEVICES`` is not applied),
including what other processes on the same GPU use.

A sampler is a daemon thread of the process that started it; it does not follow
``os.fork`` (start one in each worker, e.g. from a post-fork hook).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final

from mlpulse.domain.events import MAX_GPUS, MAX_NAME_LENGTH
from mlpulse.errors import ConfigurationError

_LOG = logging.getLogger("mlpulse.sdk")
BYTES_PER_MB: Final = 1024 * 1024
INSTALL_HINT: Final = "pip install 'mlpulse[resources]'"


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One reading of this process (and of the GPUs it sees)."""

    host: str | None
    pid: int
    cpu_percent: float
    memory_rss_mb: float
    memory_percent: float
    gpu_utilization: list[float] | None = None
    gpu_memory_used_mb: list[float] | None = None


class _ProcessProbe:
    """This process through psutil. CPU use is measured between two readings."""

    def __init__(self, psutil: ModuleType) -> None:
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first reading only starts the measurement
        self.pid: int = self._process.pid
        host = socket.gethostname()[:MAX_NAME_LENGTH]
        self.host = host or None

    def read(self, gpus: _GpuProbe | None) -> ProcessSample:
        with self._process.oneshot():  # one read of /proc for the memory figures
            cpu = float(self._process.cpu_percent(None))
            rss = self._process.memory_info().rss / BYTES_PER_MB
            # Clamped: rounding can put a process using all memory a hair over 100.
            share = min(max(float(self._process.memory_percent()), 0.0), 100.0)
        utilization, memory = gpus.read() if gpus is not None else (None, None)
        return ProcessSample(self.host, self.pid, cpu, rss, share, utilization, memory)


class _GpuProbe:
    """The GPUs NVML sees. Every failure means "no GPU fields", never an error."""

    def __init__(self, nvml: Any, handles: list[Any]) -> None:
        self._nvml = nvml
        self._handles = handles

    @classmethod
    def open(cls) -> _GpuProbe | None:
        try:
            import pynvml
        except ImportError:
            return None
        # NVML fails in ways that depend on the machine (pynvml.NVMLError for no driver
        # or no device, OSError for a broken library): any of them means no GPU samples.
        try:
            pynvml.nvmlInit()
        except Exception:
            return None
        try:
            count = min(int(pynvml.nvmlDeviceGetCount()), MAX_GPUS)
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception:
            handles = []
        probe = cls(pynvml, handles)
        if not handles:
            probe.close()
            return None
        return probe

    def read(self) -> tuple[list[float] | None, list[float] | None]:
        nvml = self._nvml
        try:
            utilization = [float(nvml.nvmlDeviceGetUtilizationRates(h).gpu) for h in self._handles]
            memory = [nvml.nvmlDeviceGetMemoryInfo(h).used / BYTES_PER_MB for h in self._handles]
        except Exception:  # a device gone or a driver reset: this sample has no GPU fields
            return None, None
        return [min(max(u, 0.0), 100.0) for u in utilization], memory

    def close(self) -> None:
        # Shutting down a library that is already broken: nothing left to do.
        with contextlib.suppress(Exception):
            self._nvml.nvmlShutdown()


def _import_psutil() -> ModuleType:
    try:
        import psutil
    except ImportError as exc:
        raise ConfigurationError(
            f"Sampling resources needs psutil, which is not installed: {INSTALL_HINT}"
        ) from exc
    return psutil


class ResourceSampler:
    """Samples this process every ``interval`` seconds on a daemon thread and logs each sample.

    Made by :meth:`mlpulse.Client.start_resource_sampler`; stops on :meth:`stop`, when
    its client is closed, or when its client is garbage collected.
    """

    def __init__(
        self,
        emit: Callable[[ProcessSample], bool],
        *,
        interval: float,
        process: _ProcessProbe,
        gpus: _GpuProbe | None,
    ) -> None:
        self._emit = emit
        self._interval = interval
        self._process = process
        self._gpus = gpus
        self._stopped = threading.Event()
        self._failure_logged = False
        self._thread = threading.Thread(
            target=self._run, name="mlpulse-resource-sampler", daemon=True
        )

    @property
    def interval(self) -> float:
        """Seconds between two samples."""
        return self._interval

    @property
    def pid(self) -> int:
        """The sampled process (this one)."""
        return self._process.pid

    @property
    def samples_gpus(self) -> bool:
        """True when NVML was found and sees at least one GPU."""
        return self._gpus is not None

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sampling; waits up to ``timeout`` seconds for the thread. Idempotent."""
        self._stopped.set()
        if self._thread is not threading.current_thread() and self._thread.ident is not None:
            self._thread.join(timeout)

    def _start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stopped.wait(self._interval):
                try:
                    sample = self._process.read(self._gpus)
                # Loop boundary: psutil may refuse a reading (AccessDenied in a sandbox);
                # the next interval tries again, and the serving code never notices.
                except Exception:
                    if not self._failure_logged:
                        self._failure_logged = True
                        _LOG.warning("mlpulse could not sample resources", exc_info=True)
                    continue
                if not self._emit(sample):
                    break
        finally:
            self._stopped.set()
            if self._gpus is not None:
                self._gpus.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"ResourceSampler(interval={self._interval}, pid={self.pid}, {state})"


def start_sampler(emit: Callable[[ProcessSample], bool], *, interval: float) -> ResourceSampler:
    """Start sampling this process; ``emit`` logs a sample and says whether to go on.

    Raises :class:`~mlpulse.errors.ConfigurationError` when psutil is not installed.
    """
    process = _ProcessProbe(_import_psutil())
    sampler = ResourceSampler(emit, interval=interval, process=process, gpus=_GpuProbe.open())
    sampler._start()
    return sampler
