"""Resource samples from the SDK: log_resource, and the psutil sampler (with or without GPUs)."""

from __future__ import annotations

import gc
import os
import socket
import sys
import time
import types
import weakref
from typing import Any

import pytest

import mlpulse
from mlpulse.domain.events import Resource
from mlpulse.errors import ConfigurationError, ParameterError
from mlpulse.sdk import ResourceSampler

psutil = pytest.importorskip("psutil")


def _resources(receiver: Any) -> list[Resource]:
    return [e for e in receiver.events() if isinstance(e, Resource)]


def _wait_for_resources(receiver: Any, count: int, timeout: float = 5.0) -> list[Resource]:
    deadline = time.monotonic() + timeout
    while len(_resources(receiver)) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return _resources(receiver)


def test_log_resource_delivers_every_field(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url)
    gpus = [87.0, 3.0]
    client.log_resource(
        cpu_percent=150.0,
        memory_rss_mb=512.0,
        memory_percent=6.5,
        gpu_utilization=gpus,
        gpu_memory_used_mb=(1024.0, 0.0),
        model="fraud",
        version="v3",
        host="web-1",
        pid=42,
        timestamp=1767225600.0,
    )
    gpus.append(99.0)  # the caller may reuse its list
    assert client.flush(timeout=4)
    assert _resources(receiver) == [
        Resource(
            model="fraud",
            version="v3",
            host="web-1",
            pid=42,
            timestamp=1767225600.0,
            cpu_percent=150.0,
            memory_rss_mb=512.0,
            memory_percent=6.5,
            gpu_utilization=[87.0, 3.0],
            gpu_memory_used_mb=[1024.0, 0.0],
        )
    ]


def test_log_resource_stamps_the_time_of_the_call(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url)
    before = time.time()
    client.log_resource(cpu_percent=1.0)
    assert client.flush(timeout=4)
    (sample,) = _resources(receiver)
    assert isinstance(sample.timestamp, float)
    assert before <= sample.timestamp <= time.time()


def test_log_resource_never_raises_and_the_collector_names_the_bad_field(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url)
    client.log_resource(cpu_percent=-1.0, pid=1)
    client.log_resource(gpu_utilization=[50.0, 120.0])
    client.log_resource(cpu_percent=2.0)
    assert client.flush(timeout=4)
    stats = client.stats()
    assert (stats.sent, stats.rejected) == (1, 2)
    assert [r.cpu_percent for r in _resources(receiver)] == [2.0]


def test_resource_sampler_logs_this_process_every_interval(receiver: Any, make_client: Any) -> None:
    client = make_client(receiver.url)
    sampler = client.start_resource_sampler(interval=0.05, model="fraud", version="v3")
    assert isinstance(sampler, ResourceSampler)
    assert sampler.running and sampler.interval == 0.05 and sampler.pid == os.getpid()
    samples = _wait_for_resources(receiver, 3)
    sampler.stop()
    assert not sampler.running
    assert len(samples) >= 3
    rss_mb = psutil.Process().memory_info().rss / 2**20
    for sample in samples:
        assert (sample.model, sample.version, sample.pid) == ("fraud", "v3", os.getpid())
        assert sample.host == socket.gethostname()
        assert sample.cpu_percent is not None and sample.cpu_percent >= 0.0
        assert sample.memory_rss_mb == pytest.approx(rss_mb, rel=0.5)
        assert sample.memory_percent is not None and 0.0 < sample.memory_percent <= 100.0
        assert sample.gpu_utilization is None and sample.gpu_memory_used_mb is None  # no GPU
    times = [s.timestamp for s in samples]
    assert times == sorted(times)


def test_resource_sampler_stop_is_idempotent_and_no_sample_follows(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url)
    sampler = client.start_resource_sampler(interval=0.02)
    _wait_for_resources(receiver, 1)
    sampler.stop()
    sampler.stop()
    assert client.flush(timeout=4)
    count = len(_resources(receiver))
    time.sleep(0.1)
    assert client.flush(timeout=4)
    assert len(_resources(receiver)) == count


def test_closing_the_client_stops_its_samplers_and_ships_what_they_logged(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url)
    samplers = [client.start_resource_sampler(interval=0.02) for _ in range(2)]
    _wait_for_resources(receiver, 2)
    assert client.close(timeout=4)
    assert not any(s.running for s in samplers)
    assert client.stats().dropped == 0


def test_resource_sampler_does_not_keep_a_dropped_client_alive(receiver: Any) -> None:
    client = mlpulse.Client(receiver.url, "test-key", flush_interval=0.02)
    sampler = client.start_resource_sampler(interval=0.02)
    ref = weakref.ref(client)
    del client
    gc.collect()
    assert ref() is None
    deadline = time.monotonic() + 4
    while sampler.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not sampler.running


def test_start_resource_sampler_without_psutil_says_how_to_install_it(
    receiver: Any, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(receiver.url)
    monkeypatch.setitem(sys.modules, "psutil", None)  # makes `import psutil` fail
    with pytest.raises(ConfigurationError, match=r"pip install 'mlpulse\[resources\]'"):
        client.start_resource_sampler()


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"interval": 0}, "interval"),
        ({"interval": float("nan")}, "interval"),
        ({"interval": "15"}, "interval"),
        ({"model": ""}, "model"),
        ({"version": 3}, "version"),
    ],
)
def test_start_resource_sampler_refuses_bad_options(
    receiver: Any, make_client: Any, options: dict[str, Any], name: str
) -> None:
    client = make_client(receiver.url)
    with pytest.raises(
        ParameterError, match=f"'{name}' parameter of Client.start_resource_sampler"
    ):
        client.start_resource_sampler(**options)


# -- GPUs through NVML (there is no GPU here: a stand-in pynvml module plays the driver) ------


class _NVMLError(Exception):
    pass


class FakeNVML:
    """What the sampler uses of the ``pynvml`` module (put in ``sys.modules`` as it)."""

    def __init__(self, *, devices: int, fail_init: bool = False, lost: bool = False) -> None:
        self.devices = devices
        self.fail_init = fail_init
        self.lost = lost
        self.shutdowns = 0

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise _NVMLError("NVML Shared Library Not Found")

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return self.devices

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> types.SimpleNamespace:
        if self.lost:
            raise _NVMLError("GPU is lost")
        return types.SimpleNamespace(gpu=40 + handle, memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> types.SimpleNamespace:
        return types.SimpleNamespace(used=(handle + 1) * 2**30)


def test_resource_sampler_adds_gpu_fields_when_nvml_sees_gpus(
    receiver: Any, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    nvml = FakeNVML(devices=2)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    client = make_client(receiver.url)
    sampler = client.start_resource_sampler(interval=0.02)
    assert sampler.samples_gpus
    sample = _wait_for_resources(receiver, 1)[0]
    sampler.stop()
    assert sample.gpu_utilization == [40.0, 41.0]
    assert sample.gpu_memory_used_mb == [1024.0, 2048.0]
    assert nvml.shutdowns == 1


@pytest.mark.parametrize("options", [{"devices": 1, "fail_init": True}, {"devices": 0}])
def test_resource_sampler_goes_without_gpu_fields_when_nvml_fails_or_sees_none(
    receiver: Any, make_client: Any, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    nvml = FakeNVML(**options)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    client = make_client(receiver.url)
    sampler = client.start_resource_sampler(interval=0.02)
    assert not sampler.samples_gpus
    sample = _wait_for_resources(receiver, 1)[0]
    sampler.stop()
    assert sample.cpu_percent is not None
    assert sample.gpu_utilization is None and sample.gpu_memory_used_mb is None
    assert nvml.shutdowns == (0 if nvml.fail_init else 1)


def test_resource_sampler_drops_only_the_gpu_fields_when_a_gpu_reading_fails(
    receiver: Any, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", FakeNVML(devices=1, lost=True))
    client = make_client(receiver.url)
    sampler = client.start_resource_sampler(interval=0.02)
    sample = _wait_for_resources(receiver, 1)[0]
    sampler.stop()
    assert sample.cpu_percent is not None and sample.gpu_utilization is None
